/* Components of {level >= i} for the census (see census_components.h and
 * census.h).
 *
 * Which sets are labelled. From the number of sites of each level (which
 * the census counts while it checks the input), a set that is empty or the
 * whole lattice, or the same as the next one up (no site of level exactly
 * i), is settled; an equilibrated
 * field sits on two or three adjacent levels, so only a few sets are left.
 *
 * Labelling one set. Rows become 64-site bit masks and the union-find works
 * on runs (maximal horizontal segments), not sites. The bonds between two
 * rows are the runs of (row y - 1) & (row y): each is the overlap of exactly
 * one pair of runs, whose ids are popcounts of the run-start masks, so
 * finding the pairs takes no data-dependent branch.
 *  Phase 1 labels each set in horizontal strips of rows, all (set, strip)
 * pairs shared out among the threads. A strip is labelled with no bond
 * leaving it, in its thread's scratch: it is a piece of the open lattice,
 * where a site's unwrapped position is its position, so no displacement is
 * tracked. The strip counts its components and their sizes, then gives a
 * label to each of its components that has a run in its first or last row
 * or on the edge x = 0 or x = Lx - 1, and keeps those runs' labels.
 *  Phase 2, one set per thread at a time, O(Lx strips + Ly) per set: the
 * bonds between strips and, on a periodic lattice, the wrap bonds (x: the
 * last run of a row to its first run, which for a full row is the run
 * itself; y: row Ly - 1 to row 0) join labels through links that carry the
 * displacement in periods, so a bond closing a loop with a nonzero
 * displacement shows that the component winds round the torus (a length-1
 * direction's self-bond is such a loop). The merges update the counts;
 * spanning is read off the few labels that have evidence for it (a
 * winding, or a run on an open edge).
 * So a census has three points where threads wait for each other, however
 * many sets it labels, unless their buffers do not fit the memory budget
 * together: then the sets are labelled in batches (sets_per_batch).
 *
 * The bit-level steps (masks, positions of set bits) have an AVX-512 version
 * (compress instructions write out a word's bit positions at once), chosen
 * at run time, and a portable one. */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "diag/census_types.h"
#include "diag/census_components.h"
#include "core/model.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define COMP_HAVE_AVX512 1
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi2")))
#endif

/* spanning evidence: winds in x, y (periodic); touches edge x = 0, x = Lx - 1,
 * y = 0, y = Ly - 1 (open); COUNTED marks a root already tallied */
enum { FL_WX = 1, FL_WY = 2, FL_L = 4, FL_R = 8, FL_B = 16, FL_T = 32, FL_COUNTED = 64 };

/* Positions of set bits are written in whole batches (see flatten_plain and
 * flatten_avx512), so every position buffer has this many spare entries. */
enum { SLACK = 64 };

/* Strips per set unless told more: enough to share out among the threads
 * (all sets' strips are shared out together); each costs a seam in phase 2
 * and its kept labels. */
enum { STRIPS_PER_THREAD = 8 };

typedef struct {
    int64_t ncomp, largest, hist[CENSUS_NBINS];
    int32_t top_n, bot_n;   /* runs in the strip's first and last row */
} strip_stats;

typedef struct {
    int32_t node, flags;
} event;

/* A thread's scratch for labelling a strip (rows relative to its first). */
struct census_comp_slot {
    uint64_t *mask, *start;          /* max(strip_rows, 2) x words */
    int32_t *before;                 /* same; see row_starts */
    int32_t *row_first, *row_n;      /* strip_rows */
    int32_t *parent, *size, *roots;  /* strip_rows x row_cap: union-find over runs */
    uint64_t *edges, *bonds;         /* words + 1, words: see row_starts, row_bonds */
    int32_t *ed;                     /* 2 row_cap + SLACK: columns of run edges */
    int32_t *bc;                     /* row_cap + SLACK: columns of bonds */
    int32_t *pairs;                  /* 2 row_cap: the bonds join_row unites */
};

/* What phase 1 leaves of one set for phase 2. Labels: strip s numbers its
 * own from 2 (s row_cap + y0(s)) on, which leaves room for one per kept
 * run. */
struct census_comp_level {
    int32_t *top, *bot;        /* max_strips x row_cap: labels of the runs of each strip's first and last row */
    int32_t *first, *last;     /* Ly: labels of each row's first and last run */
    int32_t *parent, *size;    /* union-find over labels; size: of a root */
    int32_t *link_x, *link_y;  /* displacement of a label from its parent, in periods */
    uint8_t *mark;             /* spanning flags of final roots */
    event *event;              /* 2 (Ly + row_cap) + 8 */
    strip_stats *strip;        /* max_strips */
};

static inline int size_bin(int64_t s) { return 63 - __builtin_clzll((unsigned long long)s); }

_Static_assert(CENSUS_NV == 9, "census_components.h declares n_level[9]");
_Static_assert(CENSUS_NBINS == 32, "census_components.h declares census_comp_piece's hist[32]");

static inline int strip_row(int s, int ns, int Ly) { return (int)((int64_t)s * Ly / ns); }

/* ------------------------------------------------------ bit-level kernels */

/* Masks of {level >= i} for rows of Lx sites: bit x % 64 of word x / 64 of
 * each row; bits past Lx clear. SSE2 (in every x86-64) where there is no
 * AVX-512. */
static void masks_plain(const int8_t *level, int Lx, int rows, int i, int W, uint64_t *mask)
{
    const int full = Lx / 64;
#if defined(__SSE2__)
    const __m128i t = _mm_set1_epi8((char)(i - 1));
#endif
    for (int y = 0; y < rows; y++) {
        const int8_t *row = level + (int64_t)y * Lx;
        uint64_t *m = mask + (int64_t)y * W;
        for (int k = 0; k < full; k++) {
            const int8_t *p = row + 64 * (int64_t)k;
            uint64_t b = 0;
#if defined(__SSE2__)
            for (int q = 0; q < 4; q++) {
                const __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * q));
                b |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(v, t)) << (16 * q);
            }
#else
            for (int j = 0; j < 64; j++) b |= (uint64_t)(p[j] >= i) << j;
#endif
            m[k] = b;
        }
        if (full < W) {
            const int8_t *p = row + 64 * (int64_t)full;
            uint64_t b = 0;
            for (int j = 0; j < Lx - 64 * full; j++) b |= (uint64_t)(p[j] >= i) << j;
            m[full] = b;
        }
    }
}

/* Writes 64 k + the positions of the set bits of bits[k], k < W, in
 * increasing order, to out and returns their number. Eight at a time with
 * no test in between: a loop that stops at the last bit mispredicts its
 * exit about once per word. Entries past the count are junk. */
static int flatten_plain(const uint64_t *bits, int W, int32_t *out)
{
    int n = 0;
    for (int k = 0; k < W; k++) {
        uint64_t b = bits[k];
        const int c = __builtin_popcountll(b);
        for (int j = 0; j < c; j += 8)
            for (int t = 0; t < 8; t++) {
                /* | bit 63: a defined (junk) ctz once b is used up */
                out[n + j + t] = 64 * k + __builtin_ctzll(b | UINT64_C(1) << 63);
                b &= b - 1;
            }
        n += c;
    }
    return n;
}

#ifdef COMP_HAVE_AVX512
AVX512_TARGET static void masks_avx512(const int8_t *level, int Lx, int rows, int i, int W,
                                       uint64_t *mask)
{
    const __m512i t = _mm512_set1_epi8((char)(i - 1));
    const int full = Lx / 64;
    const __mmask64 tail = (UINT64_C(1) << (Lx % 64)) - 1;
    for (int y = 0; y < rows; y++) {
        const int8_t *row = level + (int64_t)y * Lx;
        uint64_t *m = mask + (int64_t)y * W;
        for (int k = 0; k < full; k++)
            m[k] = _mm512_cmpgt_epi8_mask(_mm512_loadu_si512(row + 64 * (int64_t)k), t);
        if (full < W)   /* masked load: nothing read past the row */
            m[full] = _mm512_mask_cmpgt_epi8_mask(
                tail, _mm512_maskz_loadu_epi8(tail, row + 64 * (int64_t)full), t);
    }
}

/* flatten_plain with vpcompressb: a word's bit positions as packed bytes in
 * one instruction, widened 16 at a time, all 64 written. Its cost does not
 * depend on the number of bits (the compress dominates), so flatten uses
 * it only for rows with many. */
AVX512_TARGET static int flatten_avx512(const uint64_t *bits, int W, int32_t *out)
{
    static const uint8_t iota[64] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
        48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
    const __m512i idx = _mm512_loadu_si512(iota);
    int n = 0;
    for (int k = 0; k < W; k++) {
        const uint64_t b = bits[k];
        const __m512i p = _mm512_maskz_compress_epi8(b, idx);
        const __m512i base = _mm512_set1_epi32(64 * k);
        int32_t *o = out + n;
        _mm512_storeu_si512(o, _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(p)), base));
        _mm512_storeu_si512(o + 16, _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(p, 1)), base));
        _mm512_storeu_si512(o + 32, _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(p, 2)), base));
        _mm512_storeu_si512(o + 48, _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(p, 3)), base));
        n += __builtin_popcountll(b);
    }
    return n;
}
#endif

static bool have_avx512(void)
{
#ifdef COMP_HAVE_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi2");
#else
    return false;
#endif
}

static inline void build_masks(bool simd, const int8_t *level, int Lx, int rows, int i, int W,
                               uint64_t *mask)
{
#ifdef COMP_HAVE_AVX512
    if (simd) { masks_avx512(level, Lx, rows, i, W, mask); return; }
#endif
    (void)simd;
    masks_plain(level, Lx, rows, i, W, mask);
}

/* flatten_avx512 or flatten_plain for a row of W words with nbits set
 * bits. The scalar one costs a cycle or two per bit and a mispredicted
 * exit now and then, the compress one some twenty cycles per word (on the
 * Zen 5 this was tuned on), so the compress pays from about 8 bits a word:
 * in the sets about half full, not in the nearly empty or full ones. */
static inline int flatten(bool simd, const uint64_t *bits, int W, int nbits, int32_t *out)
{
#ifdef COMP_HAVE_AVX512
    if (simd && nbits > 8 * W) return flatten_avx512(bits, W, out);
#endif
    (void)simd;
    (void)nbits;
    return flatten_plain(bits, W, out);
}

/* ----------------------------------------------------------------- rows */

/* For the row with mask m: where its runs start (s) and, per word, the id of
 * the last run that starts before the word (before; the row's first run
 * has id first), so that a run's id is one popcount away. With edges (W + 1
 * words), also the run edges: each run's start and the column after its
 * end (in word W if that is 64 W = Lx), so that flattened they alternate
 * start, end + 1, and one pass over the words gives both. Returns the
 * number of runs. */
static int row_starts(const uint64_t *m, uint64_t *s, int32_t *before, int W, int32_t first,
                      uint64_t *edges)
{
    int n = 0;
    uint64_t carry = 0;
    for (int k = 0; k < W; k++) {
        const uint64_t b = m[k], prev = b << 1 | carry;
        s[k] = b & ~prev;
        carry = b >> 63;
        before[k] = first - 1 + n;
        n += __builtin_popcountll(s[k]);
        if (edges) edges[k] = b ^ prev;
    }
    if (edges) edges[W] = carry;
    return n;
}

/* Where the runs of u & v start: one bit per pair of overlapping runs of
 * the two rows, i.e. per bond to join. Returns their number. */
static int row_bonds(const uint64_t *u, const uint64_t *v, int W, uint64_t *bs)
{
    int n = 0;
    uint64_t carry = 0;
    for (int k = 0; k < W; k++) {
        const uint64_t b = u[k] & v[k];
        bs[k] = b & ~(b << 1 | carry);
        carry = b >> 63;
        n += __builtin_popcountll(bs[k]);
    }
    return n;
}

/* Id of the run covering column c (c in the set) of a row with run starts
 * s and bases before (see row_starts). */
static inline int32_t run_at(const uint64_t *s, const int32_t *before, int32_t c)
{
    const uint64_t upto = (UINT64_C(2) << (c & 63)) - 1;   /* bits 0..c % 64 */
    return before[c >> 6] + __builtin_popcountll(s[c >> 6] & upto);
}

/* ---------------------------------------------------------------- phase 1 */

/* Phase 1 links a root only under a root with a smaller id (ids grow row by
 * row), so every parent is smaller than its child. Unions then need no
 * sizes, which would put a load of the size just stored by the previous
 * union on every union's critical path; sizes are summed once at the end,
 * where the order of the ids lets one pass do it. */

/* Root of a, with path halving (which keeps parents smaller than children). */
static int32_t find_root_walk(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        const int32_t g = parent[parent[a]];
        parent[a] = g;
        a = g;
    }
    return a;
}

/* Root of a. In the row-by-row labelling a run is its own root or one link
 * below it some 97% of the time, so one unconditional step with a branch
 * that is nearly never taken beats a loop whose exit, after 0 or 1 steps,
 * mispredicts. */
static inline int32_t find_root(int32_t *parent, int32_t a)
{
    const int32_t p = parent[a];
    return __builtin_expect(parent[p] == p, 1) ? p : find_root_walk(parent, a);
}

/* Joins the nb bonds at columns bc between a row and the next, whose run
 * starts and bases (see row_starts) are at s and before, the next row's W
 * words on; pairs: scratch of 2 nb entries. Bonds come in column order, so
 * those of one run b of the lower row come together. Its first bond hangs
 * b (still a singleton) under the root above: no union, and no bond
 * depends on another, so these run at full speed; the loop goes backwards,
 * so that the first bond's store is the one that stays. The other bonds
 * (one in five or so), listed on the way, each join two components, in a
 * loop that has to wait on memory. Not inlined: in label_strip it would run
 * short of registers. */
__attribute__((noinline))
static void join_row(int32_t *restrict parent, const int32_t *restrict bc, int nb,
                     int32_t *restrict pairs, const uint64_t *restrict s,
                     const int32_t *restrict before, int W)
{
    int n2 = 0;
    int32_t next_a = -1, next_b = -1;   /* bond j + 1 */
    for (int j = nb - 1; j >= 0; j--) {
        const int32_t a = run_at(s, before, bc[j]), b = run_at(s + W, before + W, bc[j]);
        parent[b] = find_root(parent, a);
        pairs[2 * n2] = next_a;
        pairs[2 * n2 + 1] = next_b;
        n2 += b == next_b;
        next_a = a;
        next_b = b;
    }
    for (int t = 0; t < n2; t++) {
        const int32_t x = find_root(parent, pairs[2 * t]), y = find_root(parent, pairs[2 * t + 1]);
        const int32_t lo = x < y ? x : y;
        parent[x ^ y ^ lo] = lo;   /* x == y: parent[x] = x */
    }
}

/* The label of run r's component (a root's size, once labelled, holds the
 * label complemented). */
static int32_t strip_label(struct census_comp_level *L, int32_t *parent, int32_t *size,
                           int32_t r, int32_t *next)
{
    const int32_t R = find_root_walk(parent, r);
    if (size[R] < 0) return ~size[R];
    const int32_t lab = (*next)++;
    L->parent[lab] = lab;
    L->size[lab] = size[R];
    size[R] = ~lab;
    return lab;
}

/* Phase 1 for rows y0..y1 - 1 (strip s) of {level >= i}, in slot S. */
static void label_strip(const census_input *in, const census_comp_work *w, bool simd,
                        struct census_comp_slot *S, int i, int s, int y0, int y1)
{
    const int Lx = in->Lx, W = w->words, rows = y1 - y0;
    const int32_t cap = w->row_cap;
    int32_t *parent = S->parent, *size = S->size;
    build_masks(simd, in->level + (int64_t)y0 * Lx, Lx, rows, i, W, S->mask);
    int32_t first = 0;
    for (int y = 0; y < rows; y++) {
        const int64_t o = (int64_t)y * W;
        const int n = row_starts(S->mask + o, S->start + o, S->before + o, W, first, S->edges);
        flatten(simd, S->edges, W + 1, 2 * n, S->ed);
        S->row_first[y] = first;
        S->row_n[y] = n;
        for (int j = 0; j < n; j++) {
            parent[first + j] = first + j;
            size[first + j] = S->ed[2 * j + 1] - S->ed[2 * j];
        }
        if (y > 0) {
            const int nb = flatten(simd, S->bonds, W, row_bonds(S->mask + o - W, S->mask + o, W, S->bonds), S->bc);
            join_row(parent, S->bc, nb, S->pairs, S->start + o - W, S->before + o - W, W);
        }
        first += n;
    }
    /* Sizes: in decreasing id order a run's descendants (larger ids) have
     * all added their lengths to its size by the time it adds its own
     * total to its parent's. The roots are listed on the way. */
    int32_t nr = 0;
    for (int32_t r = first - 1; r >= 0; r--) {
        const int32_t p = parent[r];
        size[p] += size[r] & -(int32_t)(p != r);
        S->roots[nr] = r;
        nr += p == r;
    }
    struct census_comp_level *L = &w->level[i];
    strip_stats *T = &L->strip[s];
    int64_t largest = 0, hist[2][CENSUS_NBINS];
    memset(hist, 0, sizeof hist);
    for (int32_t t = 0; t < nr; t++) {
        const int32_t sz = size[S->roots[t]];
        hist[t & 1][size_bin(sz)]++;   /* two, so that equal bins do not chain */
        largest = sz > largest ? sz : largest;
    }
    T->ncomp = nr;
    T->largest = largest;
    for (int k = 0; k < CENSUS_NBINS; k++) T->hist[k] = hist[0][k] + hist[1][k];
    /* what phase 2 reads: labels of the runs of the first and last row and
     * of each row's end runs */
    int32_t next = (int32_t)(2 * ((int64_t)s * cap + y0));
    T->top_n = S->row_n[0];
    T->bot_n = S->row_n[rows - 1];
    for (int j = 0; j < T->top_n; j++)
        L->top[(int64_t)s * cap + j] = strip_label(L, parent, size, S->row_first[0] + j, &next);
    for (int j = 0; j < T->bot_n; j++)
        L->bot[(int64_t)s * cap + j] = strip_label(L, parent, size, S->row_first[rows - 1] + j, &next);
    /* end runs: only those on the edge (a wrap bond or an open edge) */
    const bool periodic = in->boundary == BOUNDARY_PERIODIC;
    for (int y = 0; y < rows; y++) {
        const int64_t o = (int64_t)y * W;
        const bool left = S->mask[o] & 1, right = S->mask[o + (Lx - 1) / 64] >> ((Lx - 1) % 64) & 1;
        if (periodic ? left && right : left)
            L->first[y0 + y] = strip_label(L, parent, size, S->row_first[y], &next);
        if (periodic ? left && right : right)
            L->last[y0 + y] = strip_label(L, parent, size, S->row_first[y] + S->row_n[y] - 1, &next);
    }
}

/* ---------------------------------------------------------------- phase 2 */

typedef struct {
    struct census_comp_level *L;
    int64_t ncomp, largest, hist[CENSUS_NBINS];
    int nevent;
} merge_state;

/* Root of label a; *kx, *ky: a's displacement from it in periods. Few finds
 * per set, on trees kept shallow by union by size: no compression. */
static int32_t find_link(const struct census_comp_level *L, int32_t a, int32_t *kx, int32_t *ky)
{
    int32_t x = 0, y = 0;
    while (L->parent[a] != a) {
        x += L->link_x[a];
        y += L->link_y[a];
        a = L->parent[a];
    }
    *kx = x;
    *ky = y;
    return a;
}

static void add_event(merge_state *M, int32_t node, int flags)
{
    M->L->event[M->nevent].node = node;
    M->L->event[M->nevent].flags = flags;
    M->nevent++;
}

/* The bond from a site of label a to a site of label b = a + e, b's own
 * position being a + e - (wx Lx, wy Ly): so b's displacement must be a's
 * plus (wx, wy). */
static void join_link(merge_state *M, int32_t a, int32_t b, int wx, int wy)
{
    struct census_comp_level *L = M->L;
    int32_t ax, ay, bx, by;
    const int32_t ra = find_link(L, a, &ax, &ay), rb = find_link(L, b, &bx, &by);
    const int32_t dx = ax + wx - bx, dy = ay + wy - by;   /* what rb's displacement must be */
    if (ra == rb) {
        if (dx | dy) add_event(M, ra, (dx ? FL_WX : 0) | (dy ? FL_WY : 0));
        return;
    }
    const int64_t sa = L->size[ra], sb = L->size[rb];
    M->hist[size_bin(sa)]--;
    M->hist[size_bin(sb)]--;
    M->hist[size_bin(sa + sb)]++;
    M->ncomp--;
    if (sa + sb > M->largest) M->largest = sa + sb;
    if (sa < sb) {
        L->parent[ra] = rb; L->link_x[ra] = -dx; L->link_y[ra] = -dy;
        L->size[rb] = (int32_t)(sa + sb);
    } else {
        L->parent[rb] = ra; L->link_x[rb] = dx; L->link_y[rb] = dy;
        L->size[ra] = (int32_t)(sa + sb);
    }
}

/* The bonds from row ya (run labels la) to row yb = ya + 1 (lb; wy = 0) or
 * from row Ly - 1 to row 0 across the y wrap (wy = 1), in slot S. */
static void join_rows(merge_state *M, const census_input *in, const census_comp_work *w, bool simd,
                      struct census_comp_slot *S, int i, int ya, const int32_t *la, int yb,
                      const int32_t *lb, int wy)
{
    const int Lx = in->Lx, W = w->words;
    build_masks(simd, in->level + (int64_t)ya * Lx, Lx, 1, i, W, S->mask);
    build_masks(simd, in->level + (int64_t)yb * Lx, Lx, 1, i, W, S->mask + W);
    row_starts(S->mask, S->start, S->before, W, 0, NULL);
    row_starts(S->mask + W, S->start + W, S->before + W, W, 0, NULL);
    const int nb = flatten(simd, S->bonds, W, row_bonds(S->mask, S->mask + W, W, S->bonds), S->bc);
    for (int j = 0; j < nb; j++)
        join_link(M, la[run_at(S->start, S->before, S->bc[j])],
                  lb[run_at(S->start + W, S->before + W, S->bc[j])], 0, wy);
}

/* The strips' counts joined across the seams between them. */
static void join_strips(merge_state *M, const census_input *in, const census_comp_work *w, bool simd,
                        struct census_comp_slot *S, int i, int ns)
{
    struct census_comp_level *L = &w->level[i];
    const int32_t cap = w->row_cap;
    memset(M, 0, sizeof *M);
    M->L = L;
    for (int s = 0; s < ns; s++) {
        const strip_stats *T = &L->strip[s];
        M->ncomp += T->ncomp;
        if (T->largest > M->largest) M->largest = T->largest;
        for (int k = 0; k < CENSUS_NBINS; k++) M->hist[k] += T->hist[k];
    }
    for (int s = 1; s < ns; s++) {
        const int y = strip_row(s, ns, in->Ly);
        join_rows(M, in, w, simd, S, i, y - 1, L->bot + (int64_t)(s - 1) * cap, y,
                  L->top + (int64_t)s * cap, 0);
    }
}

/* Phase 2 for {level >= i}, labelled in ns strips; fills r's fields for i. */
static void merge_level(const census_input *in, const census_comp_work *w, bool simd,
                        struct census_comp_slot *S, int i, int ns, census_result *r)
{
    const int Lx = in->Lx, Ly = in->Ly;
    const int32_t cap = w->row_cap;
    const bool periodic = in->boundary == BOUNDARY_PERIODIC;
    struct census_comp_level *L = &w->level[i];
    merge_state M;
    /* seams first: every link then has displacement 0, so only wraps can
     * close a winding loop and the events stay within Ly + row_cap */
    join_strips(&M, in, w, simd, S, i, ns);
    if (periodic) {
        for (int y = 0; y < Ly; y++) {
            const int8_t *row = in->level + (int64_t)y * Lx;
            if (row[0] >= i && row[Lx - 1] >= i) join_link(&M, L->last[y], L->first[y], 1, 0);
        }
        join_rows(&M, in, w, simd, S, i, Ly - 1, L->bot + (int64_t)(ns - 1) * cap, 0, L->top, 1);
    } else {
        for (int y = 0; y < Ly; y++) {
            const int8_t *row = in->level + (int64_t)y * Lx;
            if (row[0] >= i) add_event(&M, L->first[y], FL_L);
            if (row[Lx - 1] >= i) add_event(&M, L->last[y], FL_R);
        }
        for (int j = 0; j < L->strip[0].top_n; j++) add_event(&M, L->top[j], FL_B);
        for (int j = 0; j < L->strip[ns - 1].bot_n; j++)
            add_event(&M, L->bot[(int64_t)(ns - 1) * cap + j], FL_T);
    }
    /* spanning: gather each final root's evidence, then tally each root once */
    event *ev = L->event;
    for (int e = 0; e < M.nevent; e++) {
        int32_t kx, ky;
        ev[e].node = find_link(L, ev[e].node, &kx, &ky);
        L->mark[ev[e].node] = 0;
    }
    for (int e = 0; e < M.nevent; e++) L->mark[ev[e].node] |= (uint8_t)ev[e].flags;
    int64_t nsx = 0, nsy = 0, nsxy = 0;
    for (int e = 0; e < M.nevent; e++) {
        const int f = L->mark[ev[e].node];
        if (f & FL_COUNTED) continue;
        L->mark[ev[e].node] = (uint8_t)(f | FL_COUNTED);
        const int sx = periodic ? (f & FL_WX) != 0 : (f & FL_L) && (f & FL_R);
        const int sy = periodic ? (f & FL_WY) != 0 : (f & FL_B) && (f & FL_T);
        nsx += sx; nsy += sy; nsxy += sx && sy;
    }
    r->n_components[i] = M.ncomp;
    r->largest[i] = M.largest;
    memcpy(r->size_hist[i], M.hist, sizeof M.hist);
    r->n_span_x[i] = nsx;
    r->n_span_y[i] = nsy;
    r->n_span_xy[i] = nsxy;
}

/* -------------------------------------------------------------------- API */

static void *alloc_n(size_t n, size_t size, bool *ok)
{
    void *p = malloc(n * size > 0 ? n * size : 1);
    if (!p) *ok = false;
    return p;
}

int census_comp_work_init(census_comp_work *w, int Lx, int Ly, sm_error *err)
{
    memset(w, 0, sizeof *w);
    if (Lx < 1 || Ly < 1 || (int64_t)Lx * Ly > INT32_MAX)
        return sm_fail(err, "census: cannot label components of a %d x %d lattice", Lx, Ly);
    w->Lx = Lx; w->Ly = Ly; w->N = (int64_t)Lx * Ly;
    w->words = (int)(((int64_t)Lx + 63) / 64);
    w->row_cap = (int32_t)(((int64_t)Lx + 1) / 2);
    w->slots = omp_get_max_threads();
    const int want = STRIPS_PER_THREAD * w->slots;
    w->min_strips = Ly < want ? Ly : want;
    w->max_strips = Ly < 4 * w->min_strips ? Ly : 4 * w->min_strips;
    w->strip_rows = (Ly + w->min_strips - 1) / w->min_strips;
    if (2 * ((int64_t)w->max_strips * w->row_cap + Ly) > INT32_MAX)
        return sm_fail(err, "census: %d x %d is too wide to label components", Lx, Ly);
    w->slot = calloc((size_t)w->slots, sizeof *w->slot);
    if (!w->slot) {
        census_comp_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d component buffers", Lx, Ly);
    }
    const size_t W = (size_t)w->words, cap = (size_t)w->row_cap, rows = (size_t)w->strip_rows;
    const size_t mrows = rows < 2 ? 2 : rows, ids = rows * cap;
    bool ok = true;
    for (int q = 0; q < w->slots; q++) {
        struct census_comp_slot *S = &w->slot[q];
        S->mask = alloc_n(mrows * W, sizeof *S->mask, &ok);
        S->start = alloc_n(mrows * W, sizeof *S->start, &ok);
        S->before = alloc_n(mrows * W, sizeof *S->before, &ok);
        S->row_first = alloc_n(rows, sizeof *S->row_first, &ok);
        S->row_n = alloc_n(rows, sizeof *S->row_n, &ok);
        S->parent = alloc_n(ids, sizeof *S->parent, &ok);
        S->size = alloc_n(ids, sizeof *S->size, &ok);
        S->roots = alloc_n(ids, sizeof *S->roots, &ok);
        S->edges = alloc_n(W + 1, sizeof *S->edges, &ok);
        S->bonds = alloc_n(W, sizeof *S->bonds, &ok);
        S->ed = alloc_n(2 * cap + SLACK, sizeof *S->ed, &ok);
        S->bc = alloc_n(cap + SLACK, sizeof *S->bc, &ok);
        S->pairs = alloc_n(2 * cap, sizeof *S->pairs, &ok);
    }
    if (!ok) {
        census_comp_work_free(w);
        return sm_fail(err, "census: out of memory for %d x %d component buffers", Lx, Ly);
    }
    return 0;
}

void census_comp_work_free(census_comp_work *w)
{
    for (int q = 0; w->slot && q < w->slots; q++) {
        struct census_comp_slot *S = &w->slot[q];
        free(S->mask); free(S->start); free(S->before); free(S->row_first); free(S->row_n);
        free(S->parent); free(S->size); free(S->roots); free(S->edges); free(S->bonds);
        free(S->ed); free(S->bc); free(S->pairs);
    }
    free(w->slot);
    memset(w, 0, sizeof *w);
}

/* The sizes of the buffers of one labelled set for ns strips, in entries:
 * labels (each has a parent, size, link_x, link_y and mark: 17 bytes),
 * kept runs of the strips' first and last rows (top, bot), events. */
typedef struct { size_t labels, kept, events; } level_sizes;

static level_sizes level_sizes_for(const census_comp_work *w, int ns)
{
    const size_t cap = (size_t)w->row_cap, Ly = (size_t)w->Ly, ms = (size_t)ns;
    return (level_sizes){.labels = 2 * (ms * cap + Ly), .kept = ms * cap, .events = 2 * (Ly + cap) + 8};
}

static size_t level_bytes(const census_comp_work *w, int ns)
{
    const level_sizes z = level_sizes_for(w, ns);
    return z.labels * (4 * sizeof(int32_t) + 1) + 2 * z.kept * sizeof(int32_t) +
           2 * (size_t)w->Ly * sizeof(int32_t) + z.events * sizeof(event) + (size_t)ns * sizeof(strip_stats);
}

/* The buffers of one labelled set for ns strips (allocated per census, for
 * the sets that are labelled only). */
static int level_alloc(struct census_comp_level *L, const census_comp_work *w, int ns)
{
    const level_sizes z = level_sizes_for(w, ns);
    bool ok = true;
    L->top = alloc_n(z.kept, sizeof *L->top, &ok);
    L->bot = alloc_n(z.kept, sizeof *L->bot, &ok);
    L->first = alloc_n((size_t)w->Ly, sizeof *L->first, &ok);
    L->last = alloc_n((size_t)w->Ly, sizeof *L->last, &ok);
    L->parent = alloc_n(z.labels, sizeof *L->parent, &ok);
    L->size = alloc_n(z.labels, sizeof *L->size, &ok);
    L->link_x = alloc_n(z.labels, sizeof *L->link_x, &ok);
    L->link_y = alloc_n(z.labels, sizeof *L->link_y, &ok);
    L->mark = alloc_n(z.labels, sizeof *L->mark, &ok);
    L->event = alloc_n(z.events, sizeof *L->event, &ok);
    L->strip = alloc_n((size_t)ns, sizeof *L->strip, &ok);
    return ok ? 0 : 1;
}

static void level_free(struct census_comp_level *L)
{
    free(L->top); free(L->bot); free(L->first); free(L->last); free(L->parent);
    free(L->size); free(L->link_x); free(L->link_y); free(L->mark); free(L->event);
    free(L->strip);
    memset(L, 0, sizeof *L);
}

/* ge[i]: sites with level >= i (ge[CENSUS_NV] = 0); todo: the sets to
 * label, i.e. neither empty nor full nor equal to the next; returns their
 * number. */
static int plan_levels(const int64_t n_level[CENSUS_NV], int64_t N, int64_t ge[CENSUS_NV + 1],
                       int todo[CENSUS_NV])
{
    int n = 0;
    ge[CENSUS_NV] = 0;
    for (int i = CENSUS_NV - 1; i >= 0; i--) ge[i] = ge[i + 1] + n_level[i];
    for (int i = CENSUS_NV - 1; i >= 0; i--)
        if (ge[i] > 0 && ge[i] < N && ge[i] > ge[i + 1]) todo[n++] = i;
    return n;
}

/* Labelled sets whose buffers are held at once: as many as fit in
 * LEVEL_BUDGET bytes a site, at least one. A set's buffers grow with its
 * strips, i.e. with the threads (8 strips a thread): at 1024^2 0.23 bytes
 * a site on 1 thread, 0.40 on 2, 2.7 on 16. With the threads' strip
 * scratch (0.75 bytes a site) they stay below the cluster part's planes (3
 * bytes a site), which are freed before the components start, so the
 * components do not raise a census's peak however many sets they label.
 * An equilibrated field labels two or three sets, one batch; each further
 * batch adds the two points where the threads wait. */
enum { LEVEL_BUDGET = 2 };

static int sets_per_batch(const census_comp_work *w, int ns)
{
    if (w->batch > 0) return w->batch < CENSUS_NV ? w->batch : CENSUS_NV;
    const size_t per_set = level_bytes(w, ns), budget = (size_t)LEVEL_BUDGET * (size_t)w->N;
    const size_t k = budget / per_set;
    return k < 1 ? 1 : (k > CENSUS_NV ? CENSUS_NV : (int)k);
}

/* Labels the nt sets todo[0..nt) in ns strips each: their buffers, phase 1
 * for all their strips, phase 2 for each set, their buffers freed. */
static int label_batch(const census_input *in, census_comp_work *w, const int *todo, int nt, int ns,
                       census_result *r)
{
    const int Ly = in->Ly;
    const bool simd = have_avx512();
    const int threads = omp_get_max_threads() < w->slots ? omp_get_max_threads() : w->slots;
    bool ok = true;
    for (int t = 0; ok && t < nt; t++) ok = !level_alloc(&w->level[todo[t]], w, ns);
    if (ok) {
        #pragma omp parallel num_threads(threads)
        {
            struct census_comp_slot *S = &w->slot[omp_get_thread_num()];
            #pragma omp for schedule(dynamic, 1)
            for (int task = 0; task < nt * ns; task++) {
                const int s = task % ns;
                label_strip(in, w, simd, S, todo[task / ns], s, strip_row(s, ns, Ly), strip_row(s + 1, ns, Ly));
            }
            #pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < nt; t++) merge_level(in, w, simd, S, todo[t], ns, r);
        }
    }
    for (int t = 0; t < nt; t++) level_free(&w->level[todo[t]]);
    return ok ? 0 : 1;
}

/* Strips per set: as many as asked for within min_strips..max_strips. */
static int strips_of(const census_comp_work *w)
{
    const int ns = w->nstrips > w->min_strips ? w->nstrips : w->min_strips;
    return ns > w->max_strips ? w->max_strips : ns;
}

/* --------------------------------------------------------------- a piece */

/* The roots of the labels of row y's sites (labs: its runs' labels), or
 * -1 off the set, into out. */
static void piece_row(const census_input *in, const census_comp_work *w, bool simd,
                      struct census_comp_slot *S, int i, int y, const int32_t *labs, int32_t *out)
{
    const int Lx = in->Lx, W = w->words;
    const struct census_comp_level *L = &w->level[i];
    build_masks(simd, in->level + (int64_t)y * Lx, Lx, 1, i, W, S->mask);
    row_starts(S->mask, S->start, S->before, W, 0, NULL);
    for (int x = 0; x < Lx; x++) {
        int32_t kx, ky;
        out[x] = S->mask[x >> 6] >> (x & 63) & 1 ? find_link(L, labs[run_at(S->start, S->before, x)], &kx, &ky)
                                                 : -1;
    }
}

/* The edges' roots renumbered 0..nlab - 1 in order of appearance, their
 * sizes into out->size. link_x, free once every root is found, holds the
 * new numbers. */
static void piece_renumber(struct census_comp_level *L, const census_input *in, census_comp_piece *out)
{
    const int len[4] = {in->Lx, in->Lx, in->Ly, in->Ly};
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < len[k]; j++)
            if (out->edge[k][j] >= 0) L->link_x[out->edge[k][j]] = -1;
    out->nlab = 0;
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < len[k]; j++) {
            const int32_t r = out->edge[k][j];
            if (r < 0) continue;
            if (L->link_x[r] < 0) {
                L->link_x[r] = out->nlab;
                out->size[out->nlab++] = L->size[r];
            }
            out->edge[k][j] = L->link_x[r];
        }
}

int census_comp_piece_of(const census_input *in, int i, census_comp_work *w, census_comp_piece *out)
{
    const int Lx = in->Lx, Ly = in->Ly, ns = strips_of(w);
    const bool simd = have_avx512();
    const int threads = omp_get_max_threads() < w->slots ? omp_get_max_threads() : w->slots;
    w->level = calloc(CENSUS_NV, sizeof *w->level);
    struct census_comp_level *L = w->level ? &w->level[i] : NULL;
    if (!L || level_alloc(L, w, ns)) {
        if (L) level_free(L);
        free(w->level);
        w->level = NULL;
        return 1;
    }
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int s = 0; s < ns; s++)
        label_strip(in, w, simd, &w->slot[omp_get_thread_num()], i, s, strip_row(s, ns, Ly),
                    strip_row(s + 1, ns, Ly));
    merge_state M;
    join_strips(&M, in, w, simd, &w->slot[0], i, ns);
    out->ncomp = M.ncomp;
    out->largest = M.largest;
    memcpy(out->hist, M.hist, sizeof M.hist);
    piece_row(in, w, simd, &w->slot[0], i, 0, L->top, out->edge[CENSUS_EDGE_BOTTOM]);
    piece_row(in, w, simd, &w->slot[0], i, Ly - 1, L->bot + (int64_t)(ns - 1) * w->row_cap,
              out->edge[CENSUS_EDGE_TOP]);
    for (int y = 0; y < Ly; y++) {
        const int8_t *row = in->level + (int64_t)y * Lx;
        int32_t kx, ky;
        out->edge[CENSUS_EDGE_LEFT][y] = row[0] >= i ? find_link(L, L->first[y], &kx, &ky) : -1;
        out->edge[CENSUS_EDGE_RIGHT][y] = row[Lx - 1] >= i ? find_link(L, L->last[y], &kx, &ky) : -1;
    }
    piece_renumber(L, in, out);
    level_free(L);
    free(w->level);
    w->level = NULL;
    return 0;
}

int census_components(const census_input *in, const int64_t n_level[CENSUS_NV], census_comp_work *w,
                      census_result *r)
{
    const int Ly = in->Ly;
    const int64_t N = (int64_t)in->Lx * Ly;
    memset(r->n_sites_ge, 0, sizeof r->n_sites_ge);
    memset(r->n_components, 0, sizeof r->n_components);
    memset(r->largest, 0, sizeof r->largest);
    memset(r->size_hist, 0, sizeof r->size_hist);
    memset(r->n_span_x, 0, sizeof r->n_span_x);
    memset(r->n_span_y, 0, sizeof r->n_span_y);
    memset(r->n_span_xy, 0, sizeof r->n_span_xy);

    const int ns = strips_of(w);
    int64_t ge[CENSUS_NV + 1];
    int todo[CENSUS_NV];
    const int ntodo = plan_levels(n_level, N, ge, todo);
    w->level = calloc(CENSUS_NV, sizeof *w->level);
    if (!w->level) return 1;
    const int per = sets_per_batch(w, ns);
    int rc = 0;
    for (int t0 = 0; !rc && t0 < ntodo; t0 += per)
        rc = label_batch(in, w, todo + t0, ntodo - t0 < per ? ntodo - t0 : per, ns, r);
    free(w->level);
    w->level = NULL;
    if (rc) return 1;
    /* the sets settled by the counts, top down so that i + 1 is done */
    for (int i = CENSUS_NV - 1; i >= 0; i--) {
        r->n_sites_ge[i] = ge[i];
        if (ge[i] == N) {
            /* one component, and it spans both ways: each row and column is
             * a closed loop (periodic) or reaches both edges (open) */
            r->n_components[i] = 1;
            r->largest[i] = N;
            r->size_hist[i][size_bin(N)] = 1;
            r->n_span_x[i] = r->n_span_y[i] = r->n_span_xy[i] = 1;
        } else if (ge[i] > 0 && ge[i] == ge[i + 1]) {
            r->n_components[i] = r->n_components[i + 1];
            r->largest[i] = r->largest[i + 1];
            memcpy(r->size_hist[i], r->size_hist[i + 1], sizeof r->size_hist[i]);
            r->n_span_x[i] = r->n_span_x[i + 1];
            r->n_span_y[i] = r->n_span_y[i + 1];
            r->n_span_xy[i] = r->n_span_xy[i + 1];
        }
    }
    return 0;
}
