/*
 * Bounded reader and writer for packets: the only way ikeagent code reads
 * or writes wire data.
 *
 * A reader is a cursor over a borrowed, read-only byte range. Every read
 * checks what is left first; a read that would overrun fails, reads nothing
 * and marks the reader failed, so later reads fail too (sticky error): a
 * parser may read several fields and check once.
 *
 * A writer is a cursor over a caller-owned buffer with a capacity. Writes
 * that would overflow fail and mark the writer failed. A length field whose
 * value is only known later is reserved (wr_reserve) and filled
 * (wr_fill_u16/u32) once the body is written.
 */
#ifndef IKEAGENT_UTIL_BUF_H
#define IKEAGENT_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct rd {
	const uint8_t *p;	/* start of the range */
	size_t len;		/* bytes in the range */
	size_t pos;		/* bytes consumed */
	bool failed;		/* a read overran: every later read fails */
};

struct wr {
	uint8_t *p;
	size_t cap;
	size_t pos;
	bool failed;
};

void rd_init(struct rd *r, const void *p, size_t len);
static inline size_t rd_left(const struct rd *r) { return r->failed ? 0 : r->len - r->pos; }
static inline const uint8_t *rd_cur(const struct rd *r) { return r->p + r->pos; }
static inline bool rd_ok(const struct rd *r) { return !r->failed; }

int rd_u8(struct rd *r, uint8_t *v) MUST_CHECK;
int rd_u16(struct rd *r, uint16_t *v) MUST_CHECK;	/* big-endian */
int rd_u32(struct rd *r, uint32_t *v) MUST_CHECK;	/* big-endian */
int rd_u64(struct rd *r, uint64_t *v) MUST_CHECK;	/* big-endian */
int rd_bytes(struct rd *r, void *out, size_t n) MUST_CHECK;
/* Borrow n bytes without copying; *out points into the reader's range. */
int rd_ptr(struct rd *r, size_t n, const uint8_t **out) MUST_CHECK;
/* Take the next n bytes as a reader of their own and skip them here. */
int rd_sub(struct rd *r, size_t n, struct rd *sub) MUST_CHECK;
int rd_skip(struct rd *r, size_t n) MUST_CHECK;
/* Peek without consuming. */
int rd_peek_u8(const struct rd *r, size_t at, uint8_t *v) MUST_CHECK;
int rd_peek_u16(const struct rd *r, size_t at, uint16_t *v) MUST_CHECK;
int rd_peek_u32(const struct rd *r, size_t at, uint32_t *v) MUST_CHECK;

void wr_init(struct wr *w, void *p, size_t cap);
static inline size_t wr_len(const struct wr *w) { return w->pos; }
static inline size_t wr_room(const struct wr *w) { return w->failed ? 0 : w->cap - w->pos; }
static inline bool wr_ok(const struct wr *w) { return !w->failed; }

int wr_u8(struct wr *w, uint8_t v) MUST_CHECK;
int wr_u16(struct wr *w, uint16_t v) MUST_CHECK;
int wr_u32(struct wr *w, uint32_t v) MUST_CHECK;
int wr_u64(struct wr *w, uint64_t v) MUST_CHECK;
int wr_bytes(struct wr *w, const void *src, size_t n) MUST_CHECK;
int wr_zero(struct wr *w, size_t n) MUST_CHECK;
/* Claim n bytes to be written in place (e.g. by a cipher); *out points at them. */
int wr_alloc(struct wr *w, size_t n, uint8_t **out) MUST_CHECK;
/* Reserve n bytes (zeroed) for a field filled later; *mark is its offset. */
int wr_reserve(struct wr *w, size_t n, size_t *mark) MUST_CHECK;
int wr_fill_u8(struct wr *w, size_t mark, uint8_t v) MUST_CHECK;
int wr_fill_u16(struct wr *w, size_t mark, uint16_t v) MUST_CHECK;
int wr_fill_u32(struct wr *w, size_t mark, uint32_t v) MUST_CHECK;

/* Big-endian load/store helpers for code that already checked the bounds. */
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif
