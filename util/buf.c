#include "util/buf.h"

#include <string.h>

void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->pos = 0;
	r->failed = false;
}

/* The single bounds check every read goes through. */
static int rd_take(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->failed || n > r->len - r->pos) {
		r->failed = true;
		return -1;
	}
	*out = r->p + r->pos;
	r->pos += n;
	return 0;
}

int rd_u8(struct rd *r, uint8_t *v)
{
	const uint8_t *p;

	if (rd_take(r, 1, &p) < 0)
		return -1;
	*v = p[0];
	return 0;
}

int rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *p;

	if (rd_take(r, 2, &p) < 0)
		return -1;
	*v = get_be16(p);
	return 0;
}

int rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;

	if (rd_take(r, 4, &p) < 0)
		return -1;
	*v = get_be32(p);
	return 0;
}

int rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *p;

	if (rd_take(r, 8, &p) < 0)
		return -1;
	*v = (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
	return 0;
}

int rd_bytes(struct rd *r, void *out, size_t n)
{
	const uint8_t *p;

	if (rd_take(r, n, &p) < 0)
		return -1;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int rd_ptr(struct rd *r, size_t n, const uint8_t **out)
{
	return rd_take(r, n, out);
}

int rd_sub(struct rd *r, size_t n, struct rd *sub)
{
	const uint8_t *p;

	if (rd_take(r, n, &p) < 0)
		return -1;
	rd_init(sub, p, n);
	return 0;
}

int rd_skip(struct rd *r, size_t n)
{
	const uint8_t *p;

	return rd_take(r, n, &p);
}

static int rd_peek(const struct rd *r, size_t at, size_t n, const uint8_t **out)
{
	size_t left = rd_left(r);

	if (r->failed || at > left || n > left - at)
		return -1;
	*out = r->p + r->pos + at;
	return 0;
}

int rd_peek_u8(const struct rd *r, size_t at, uint8_t *v)
{
	const uint8_t *p;

	if (rd_peek(r, at, 1, &p) < 0)
		return -1;
	*v = p[0];
	return 0;
}

int rd_peek_u16(const struct rd *r, size_t at, uint16_t *v)
{
	const uint8_t *p;

	if (rd_peek(r, at, 2, &p) < 0)
		return -1;
	*v = get_be16(p);
	return 0;
}

int rd_peek_u32(const struct rd *r, size_t at, uint32_t *v)
{
	const uint8_t *p;

	if (rd_peek(r, at, 4, &p) < 0)
		return -1;
	*v = get_be32(p);
	return 0;
}

void wr_init(struct wr *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p ? cap : 0;
	w->pos = 0;
	w->failed = false;
}

/* The single bounds check every write goes through. */
int wr_alloc(struct wr *w, size_t n, uint8_t **out)
{
	if (w->failed || n > w->cap - w->pos) {
		w->failed = true;
		return -1;
	}
	*out = w->p + w->pos;
	w->pos += n;
	return 0;
}

int wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *p;

	if (wr_alloc(w, 1, &p) < 0)
		return -1;
	p[0] = v;
	return 0;
}

int wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *p;

	if (wr_alloc(w, 2, &p) < 0)
		return -1;
	put_be16(p, v);
	return 0;
}

int wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *p;

	if (wr_alloc(w, 4, &p) < 0)
		return -1;
	put_be32(p, v);
	return 0;
}

int wr_u64(struct wr *w, uint64_t v)
{
	uint8_t *p;

	if (wr_alloc(w, 8, &p) < 0)
		return -1;
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
	return 0;
}

int wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *p;

	if (wr_alloc(w, n, &p) < 0)
		return -1;
	if (n)
		memmove(p, src, n);
	return 0;
}

int wr_zero(struct wr *w, size_t n)
{
	uint8_t *p;

	if (wr_alloc(w, n, &p) < 0)
		return -1;
	if (n)
		memset(p, 0, n);
	return 0;
}

int wr_reserve(struct wr *w, size_t n, size_t *mark)
{
	size_t at = w->pos;

	if (wr_zero(w, n) < 0)
		return -1;
	*mark = at;
	return 0;
}

static int wr_fill(struct wr *w, size_t mark, size_t n, uint8_t **out)
{
	if (w->failed || mark > w->pos || n > w->pos - mark)
		return -1;
	*out = w->p + mark;
	return 0;
}

int wr_fill_u8(struct wr *w, size_t mark, uint8_t v)
{
	uint8_t *p;

	if (wr_fill(w, mark, 1, &p) < 0)
		return -1;
	p[0] = v;
	return 0;
}

int wr_fill_u16(struct wr *w, size_t mark, uint16_t v)
{
	uint8_t *p;

	if (wr_fill(w, mark, 2, &p) < 0)
		return -1;
	put_be16(p, v);
	return 0;
}

int wr_fill_u32(struct wr *w, size_t mark, uint32_t v)
{
	uint8_t *p;

	if (wr_fill(w, mark, 4, &p) < 0)
		return -1;
	put_be32(p, v);
	return 0;
}
