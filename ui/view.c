/* view: cursor and scrolling of a list, without curses. */
#include "config.h"

#include "view.h"
#include "banned.h"

void
view_fit(struct view *v, size_t n, size_t height)
{
	if (!height)
		height = 1;
	if (!n) {
		v->cur = v->top = 0;
		return;
	}
	if (v->cur >= n)
		v->cur = n - 1;
	if (v->top > v->cur)
		v->top = v->cur;
	if (v->cur >= v->top + height)
		v->top = v->cur - height + 1;
	/* no empty space below the last row when the list is long enough */
	if (n >= height && v->top > n - height)
		v->top = n - height;
	if (n < height)
		v->top = 0;
}

void
view_step(struct view *v, long delta, size_t n, size_t height)
{
	if (delta < 0)
		v->cur = (size_t)-delta > v->cur ? 0 : v->cur - (size_t)-delta;
	else
		v->cur += (size_t)delta;
	view_fit(v, n, height);
}

void
view_page(struct view *v, int dir, size_t n, size_t height)
{
	size_t page = height > 1 ? height - 1 : 1;

	if (dir < 0) {
		v->top = page > v->top ? 0 : v->top - page;
		v->cur = page > v->cur ? 0 : v->cur - page;
	} else {
		v->top += page;
		v->cur += page;
	}
	view_fit(v, n, height);
}

void
view_goto(struct view *v, size_t row, size_t n, size_t height)
{
	v->cur = row;
	if (n && v->cur >= n)
		v->cur = n - 1;
	if (v->cur < v->top || v->cur >= v->top + height)
		v->top = v->cur > height / 3 ? v->cur - height / 3 : 0;
	view_fit(v, n, height);
}
