/* The shared simulation state and the dispatch to the configured kind. */
#include <string.h>
#include "core/rng.h"
#include "dynamics/dynamics.h"
#include "io/h5out.h"

field_init field_init_of(const sm_config *cfg)
{
    return (field_init){cfg->init_level_random, cfg->init_level, cfg->init_sigma};
}

void field_init_site(const field_init *fi, uint64_t seed, int Lx, int x, int y, int8_t *level, int8_t *sigma)
{
    const rng_block r = rng_draw(seed, 0, RNG_STREAM_INIT, 0, (uint32_t)((int64_t)y * Lx + x));
    *level = (int8_t)(fi->level_random ? -(int)(r.v[0] & 1u) : fi->level);
    switch (fi->sigma) {
    case INIT_SIGMA_UP: *sigma = 1; break;
    case INIT_SIGMA_DOWN: *sigma = -1; break;
    case INIT_SIGMA_NEEL: *sigma = ((x + y) & 1) ? -1 : 1; break;
    case INIT_SIGMA_RANDOM:
    default: *sigma = (r.v[1] & 1u) ? 1 : -1;
    }
}

static void init_fields(sim_state *s, const sm_config *cfg)
{
    const lattice *lat = &s->lat;
    const field_init fi = field_init_of(cfg);
    for (int y = 0; y < lat->Ly; y++)
        for (int x = 0; x < lat->Lx; x++) {
            const int64_t a = (int64_t)y * lat->Lx + x;
            field_init_site(&fi, s->seed, lat->Lx, x, y, &s->st.level[a], &s->st.sigma[a]);
        }
    /* phase and the jump counts start at 0, as allocated */
    energy_terms_compute(&s->lat, &s->st, &s->e);
}

int sim_init(sim_state *s, const sm_config *cfg, sm_error *err)
{
    memset(s, 0, sizeof *s);
    const dynamics_kind *kind = dynamics_at(cfg->dynamics);
    if (!kind) return sm_fail(err, "%s: dynamics.kind: no dynamics with index %d", cfg->source, cfg->dynamics);
    s->kind = kind->name;
    s->dyn = kind->ops;
    s->p = cfg->model;
    s->seed = (uint64_t)cfg->seed;
    if (lattice_init(&s->lat, cfg->Lx, cfg->Ly, (boundary_kind)cfg->boundary, err)) {
        memset(s, 0, sizeof *s);
        return 1;
    }
    /* The kind first: one that keeps the fields elsewhere (the blocks of a
     * split lattice) sets them up there, and s->st stays unallocated until
     * its sync fills it (the lattice need not fit in one process). */
    if (s->dyn->init(s, cfg, err)) {
        memset(s, 0, sizeof *s);
        return 1;
    }
    s->st.N = s->lat.N;
    if (s->dyn->init_fields && s->dyn->init_fields(s, cfg)) return 0;
    if (model_state_init(&s->st, s->lat.N, err) ||
        (s->dyn->pcp_fields && model_state_init_pcp(&s->st, &s->p, err))) {
        s->dyn->free(s);
        memset(s, 0, sizeof *s);
        return 1;
    }
    init_fields(s, cfg);
    return 0;
}

/* Safe on a state whose sim_init failed (it is left zeroed). */
void sim_free(sim_state *s)
{
    if (!s->dyn) return;
    s->dyn->free(s);
    model_state_free(&s->st);
    memset(s, 0, sizeof *s);
}

void sim_set_temperature(sim_state *s, double T)
{
    s->T = T;
    s->dyn->set_temperature(s, T);
}

void sim_sweep(sim_state *s)
{
    s->dyn->sweep(s);
    s->step++;
}

void sim_sync(sim_state *s)
{
    if (s->dyn && s->dyn->sync) s->dyn->sync(s, SIM_SYNC_FIELDS);
}

void sim_sync_sums(sim_state *s)
{
    if (s->dyn && s->dyn->sync) s->dyn->sync(s, SIM_SYNC_SUMS);
}

void sim_field_counts(const sim_state *s, field_counts *c)
{
    if (s->dyn->field_counts) s->dyn->field_counts(s, c);
    else field_counts_lattice(&s->lat, &s->st, c);
}

int sim_snapshot(const sim_state *s, h5out *h, unsigned fields, int compression, sm_error *err)
{
    if (s->dyn->snapshot) return s->dyn->snapshot(s, h, fields, compression, err);
    return h5out_snapshot(h, fields, s->lat.Lx, s->lat.Ly, &s->st, s->step, compression, err);
}

int sim_snapshot_in_place(const sim_state *s) { return s->dyn->snapshot != NULL; }

int64_t sim_site_updates_per_sweep(const sim_state *s) { return s->dyn->updates_per_sweep(s); }

int sim_census_in_place(const sim_state *s) { return s->dyn->census != NULL; }

void sim_sync_for_save(sim_state *s)
{
    if (s->dyn->save_fields) sim_sync_sums(s);
    else sim_sync(s);
}

int sim_census(const sim_state *s, struct census_result *r, sm_error *err)
{
    return s->dyn->census(s, r, err);
}

const char *const SIM_SITE_RECORDS[SIM_NREC] = {"sim.level", "sim.sigma", "sim.phase", "sim.zjumps", "kin.stamp"};

void sim_save_fields(const sim_state *s, ckpt_writer *w)
{
    const int Lx = s->lat.Lx, Ly = s->lat.Ly;
    ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_LEVEL], s->st.level, 1, Lx, Ly);
    ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_SIGMA], s->st.sigma, 1, Lx, Ly);
    if (!s->st.phase) return;
    ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_PHASE], s->st.phase, 1, Lx, Ly);
    /* as kept: int16, or int32 once widened */
    if (s->st.zjumps) ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_Z], s->st.zjumps, 2, Lx, Ly);
    else ckpt_put_sites(w, SIM_SITE_RECORDS[SIM_REC_Z], s->st.zjumps_wide, 4, Lx, Ly);
}

void sim_save(const sim_state *s, ckpt_writer *w)
{
    const int32_t dims[2] = {s->lat.Lx, s->lat.Ly};
    ckpt_put(w, "sim.dims", dims, sizeof dims);
    ckpt_put(w, "sim.dynamics", s->kind, strlen(s->kind));
    ckpt_put(w, "sim.step", &s->step, sizeof s->step);
    ckpt_put(w, "sim.energy", &s->e, sizeof s->e);
    ckpt_put(w, "sim.moves", &s->moves, sizeof s->moves);
    if (s->dyn->save_fields) s->dyn->save_fields(s, w);
    else sim_save_fields(s, w);
    s->dyn->save(s, w);
}

static int check_shape(const sim_state *s, const ckpt_reader *r, sm_error *err)
{
    int32_t dims[2];
    if (ckpt_get(r, "sim.dims", dims, sizeof dims, err)) return 1;
    const ckpt_record *kind = ckpt_find(r, "sim.dynamics", err);
    if (!kind) return 1;
    const size_t n = strlen(s->kind);
    if (dims[0] != s->lat.Lx || dims[1] != s->lat.Ly || kind->size != n ||
        memcmp(kind->data, s->kind, n) != 0)
        return sm_fail(err, "%s: checkpoint is of a %dx%d lattice with %.*s dynamics, the config has %dx%d and %s",
                       r->path, dims[0], dims[1], (int)(kind->size > 16 ? 16 : kind->size),
                       (const char *)kind->data, s->lat.Lx, s->lat.Ly, s->kind);
    return 0;
}

/* Every field in range and the incremental sums equal to a recount. */
static int check_fields(const sim_state *s, const ckpt_reader *r, sm_error *err)
{
    for (int64_t a = 0; a < s->lat.N; a++) {
        const int l = s->st.level[a], sg = s->st.sigma[a];
        if (l < LEVEL_MIN || l > LEVEL_MAX || (sg != 1 && sg != -1) || (s->st.phase && s->st.phase[a] >= NPHASE))
            return sm_fail(err, "%s: checkpoint has an invalid state at site %lld", r->path, (long long)a);
    }
    energy_terms e;
    energy_terms_compute(&s->lat, &s->st, &e);
    if (memcmp(&e, &s->e, sizeof e) != 0)
        return sm_fail(err, "%s: checkpoint energy sums disagree with its configuration", r->path);
    return 0;
}

/* Count a of a sim.zjumps record of int16 (w = 2) or int32 (w = 4) counts. */
static int32_t record_zjump(const ckpt_record *rec, int w, int64_t a)
{
    const unsigned char *p = (const unsigned char *)rec->data + w * a;
    if (w == 2) {
        int16_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A record of a checkpoint before the counts were site records: int16 or
 * int32, kept as int16 when every count fits, else widened. */
static int restore_zjumps_record(sim_state *s, const ckpt_reader *r, const ckpt_record *rec, sm_error *err)
{
    const int64_t N = s->lat.N;
    const int w = rec->size == (uint64_t)N * sizeof(int16_t) ? 2 : 4;
    if (rec->size != (uint64_t)N * (uint64_t)w)
        return sm_fail(err, "%s: checkpoint record sim.zjumps has %llu bytes, not 2 or 4 per site", r->path,
                       (unsigned long long)rec->size);
    int fits = 1;
    for (int64_t a = 0; a < N && fits && w == 4; a++) {
        const int32_t v = record_zjump(rec, w, a);
        fits = v >= INT16_MIN && v <= INT16_MAX;
    }
    if ((!fits || !s->st.zjumps) && model_state_widen_z(&s->st))
        return sm_fail(err, "out of memory for the z jump counts of %lld sites", (long long)N);
    for (int64_t a = 0; a < N; a++) {
        if (s->st.zjumps) s->st.zjumps[a] = (int16_t)record_zjump(rec, w, a);
        else s->st.zjumps_wide[a] = record_zjump(rec, w, a);
    }
    return 0;
}

int sim_zjumps_record_ok(const sim_state *s, const ckpt_reader *r, const ckpt_record *rec, sm_error *err)
{
    if ((rec->elem == 2 || rec->elem == 4) && rec->Lx == s->lat.Lx && rec->Ly == s->lat.Ly) return 1;
    sm_fail(err, "%s: checkpoint record sim.zjumps is not 2 or 4 bytes a site of a %dx%d lattice", r->path,
            s->lat.Lx, s->lat.Ly);
    return 0;
}

/* Read at the width the checkpoint has: int16, or int32 once widened (a
 * state just set up holds int16 counts). */
static int restore_zjumps(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    const ckpt_record *rec = ckpt_find(r, SIM_SITE_RECORDS[SIM_REC_Z], err);
    if (!rec) return 1;
    if (!rec->elem) return restore_zjumps_record(s, r, rec, err);
    if (!sim_zjumps_record_ok(s, r, rec, err)) return 1;
    if (rec->elem == 4 && model_state_widen_z(&s->st))
        return sm_fail(err, "out of memory for the z jump counts of %lld sites", (long long)s->lat.N);
    void *counts = rec->elem == 2 ? (void *)s->st.zjumps : (void *)s->st.zjumps_wide;
    return ckpt_get(r, SIM_SITE_RECORDS[SIM_REC_Z], counts, (size_t)s->lat.N * (size_t)rec->elem, err);
}

int sim_restore_fields(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    const size_t N = (size_t)s->lat.N;
    if (ckpt_get(r, SIM_SITE_RECORDS[SIM_REC_LEVEL], s->st.level, N, err) ||
        ckpt_get(r, SIM_SITE_RECORDS[SIM_REC_SIGMA], s->st.sigma, N, err) ||
        (s->st.phase && (ckpt_get(r, SIM_SITE_RECORDS[SIM_REC_PHASE], s->st.phase, N, err) || restore_zjumps(s, r, err))))
        return 1;
    return check_fields(s, r, err);
}

int sim_restore(sim_state *s, const ckpt_reader *r, sm_error *err)
{
    if (check_shape(s, r, err) ||
        ckpt_get(r, "sim.step", &s->step, sizeof s->step, err) ||
        ckpt_get(r, "sim.energy", &s->e, sizeof s->e, err) ||
        ckpt_get(r, "sim.moves", &s->moves, sizeof s->moves, err))
        return 1;
    if (s->step < 0) return sm_fail(err, "%s: checkpoint has a negative step", r->path);
    const int bad = s->dyn->restore_fields ? s->dyn->restore_fields(s, r, err) : sim_restore_fields(s, r, err);
    return bad || s->dyn->restore(s, r, err);
}

const char *const SIM_MEM_PART_NAMES[SIM_MEM_NPARTS] = {
    "level and sigma", "PCP phase and z", "dynamics bookkeeping", "snapshot frame", "census scratch"};

/* Bytes a site of the frame a snapshot builds before writing: fields that
 * are not stored as written (z from its count, pcp from phase and sigma,
 * phase of a kind without it). level and sigma are written in place. */
static double snapshot_bytes_per_site(unsigned fields, int pcp)
{
    double b = 0;
    if (fields & SNAP_PHASE) b = pcp ? 0 : 1;
    if (fields & SNAP_Z) b = b > 4 ? b : 4;
    if (fields & SNAP_PCP) b = 12; /* one frame at a time, the largest */
    return b;
}

/* The census keeps its scratch within 5 bytes a site (docs/census.md), and
 * only while it runs. */
enum { CENSUS_BYTES_PER_SITE = 5 };

void sim_memory_estimate(const sm_config *cfg, sim_memory *m)
{
    memset(m, 0, sizeof *m);
    const dynamics_kind *kind = dynamics_at(cfg->dynamics);
    m->share = kind && kind->ops->memory_share ? kind->ops->memory_share(cfg) : 1.0;
    /* the sites held here: the whole lattice, or one rank's block */
    const double N = (double)cfg->Lx * (double)cfg->Ly * m->share;
    const int pcp = kind && kind->ops->pcp_fields;
    m->bytes[SIM_MEM_FIELDS] = N * model_state_bytes_per_site(0);
    m->bytes[SIM_MEM_PCP] = N * (model_state_bytes_per_site(pcp) - model_state_bytes_per_site(0));
    if (kind)
        m->bytes[SIM_MEM_DYNAMICS] =
            N * (kind->ops->bytes_per_site_of ? kind->ops->bytes_per_site_of(cfg) : kind->ops->bytes_per_site);
    /* a block's frames are built from a copy of its level and sigma */
    if (cfg->snapshot_every > 0)
        m->bytes[SIM_MEM_SNAPSHOT] = N * (snapshot_bytes_per_site(cfg->snapshot_fields, pcp) + (m->share < 1 ? 2 : 0));
    if (cfg->census_every > 0) m->bytes[SIM_MEM_CENSUS] = N * CENSUS_BYTES_PER_SITE;
    /* snapshots and the census run after a sweep, never together with
     * each other's buffers */
    const double transient = m->bytes[SIM_MEM_SNAPSHOT] > m->bytes[SIM_MEM_CENSUS]
                                 ? m->bytes[SIM_MEM_SNAPSHOT] : m->bytes[SIM_MEM_CENSUS];
    m->total = m->bytes[SIM_MEM_FIELDS] + m->bytes[SIM_MEM_PCP] + m->bytes[SIM_MEM_DYNAMICS] + transient;
}
