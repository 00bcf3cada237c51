/*
 * pickleops: the pickle opcodes (protocols 0-5), as one table shared by the
 * unpickler and the pickler.  X(byte, NAME, protocol that introduced it).
 */
#ifndef PICKLEOPS_H
#define PICKLEOPS_H

#define PICKLE_OPCODES(X) \
	X('(', MARK, 0) X('.', STOP, 0) X('0', POP, 0) X('1', POP_MARK, 1) \
	X('2', DUP, 0) X('F', FLOAT, 0) X('I', INT, 0) X('J', BININT, 1) \
	X('K', BININT1, 1) X('L', LONG, 0) X('M', BININT2, 1) \
	X('N', NONE, 0) X('P', PERSID, 0) X('Q', BINPERSID, 1) \
	X('R', REDUCE, 0) X('S', STRING, 0) X('T', BINSTRING, 1) \
	X('U', SHORT_BINSTRING, 1) X('V', UNICODE, 0) \
	X('X', BINUNICODE, 1) X('a', APPEND, 0) X('b', BUILD, 0) \
	X('c', GLOBAL, 0) X('d', DICT, 0) X('}', EMPTY_DICT, 1) \
	X('e', APPENDS, 1) X('g', GET, 0) X('h', BINGET, 1) X('i', INST, 0) \
	X('j', LONG_BINGET, 1) X('l', LIST, 0) X(']', EMPTY_LIST, 1) \
	X('o', OBJ, 1) X('p', PUT, 0) X('q', BINPUT, 1) \
	X('r', LONG_BINPUT, 1) X('s', SETITEM, 0) X('t', TUPLE, 0) \
	X(')', EMPTY_TUPLE, 1) X('u', SETITEMS, 1) X('G', BINFLOAT, 1) \
	X(0x80, PROTO, 2) X(0x81, NEWOBJ, 2) X(0x82, EXT1, 2) \
	X(0x83, EXT2, 2) X(0x84, EXT4, 2) X(0x85, TUPLE1, 2) \
	X(0x86, TUPLE2, 2) X(0x87, TUPLE3, 2) X(0x88, NEWTRUE, 2) \
	X(0x89, NEWFALSE, 2) X(0x8a, LONG1, 2) X(0x8b, LONG4, 2) \
	X('B', BINBYTES, 3) X('C', SHORT_BINBYTES, 3) \
	X(0x8c, SHORT_BINUNICODE, 4) X(0x8d, BINUNICODE8, 4) \
	X(0x8e, BINBYTES8, 4) X(0x8f, EMPTY_SET, 4) X(0x90, ADDITEMS, 4) \
	X(0x91, FROZENSET, 4) X(0x92, NEWOBJ_EX, 4) \
	X(0x93, STACK_GLOBAL, 4) X(0x94, MEMOIZE, 4) X(0x95, FRAME, 4) \
	X(0x96, BYTEARRAY8, 5) X(0x97, NEXT_BUFFER, 5) \
	X(0x98, READONLY_BUFFER, 5)

enum pickle_op {
#define PICKLE_OP_ENUM(byte, name, proto) OP_##name = byte,
	PICKLE_OPCODES(PICKLE_OP_ENUM)
#undef PICKLE_OP_ENUM
};

#define PICKLE_HIGHEST_PROTOCOL 5

#endif
