/*
 * view: the cursor and the first shown row of a scrolled list, apart
 * from drawing (so the scrolling rules are tested without a terminal).
 *
 * Invariants after every call, for n rows shown height at a time:
 * cur < n (or 0 when n is 0), top <= cur < top + height, and top is as
 * small as it can be when the list fits.
 */
#ifndef VIEW_H
#define VIEW_H

#include <stddef.h>

struct view {
	size_t cur;		/* the selected row */
	size_t top;		/* the first row on screen */
};

/* Restore the invariants (after the list or the window changed). */
void view_fit(struct view *v, size_t n, size_t height);

/* Move the cursor by delta rows (clamped). */
void view_step(struct view *v, long delta, size_t n, size_t height);

/* A page up (dir < 0) or down: the cursor and the window move together. */
void view_page(struct view *v, int dir, size_t n, size_t height);

/* Select row (clamped); when it is off screen, show it a third down. */
void view_goto(struct view *v, size_t row, size_t n, size_t height);

#endif
