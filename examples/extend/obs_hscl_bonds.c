/* Worked example of a new observable (docs/architecture.md): the fraction
 * of bonds whose two ends are both HSCLs (level >= 0). One file plus one
 * line in OBS_GROUP_REGISTRY (src/diag/registry.c):
 *
 *     extern const obs_group_ops OBS_GROUP_HSCL_BONDS;
 *     &OBS_GROUP_HSCL_BONDS,
 *
 * The run then writes /observables/hscl_bond_fraction, summarises it per
 * segment under /summary, saves its state in checkpoints and lists it in
 * docs/output.md; nothing else changes. tests/test_extend.py builds it. */
#include "diag/obs_group.h"

typedef struct {
    int col;   /* its column in the measurement row */
} hscl_bonds;

static int hb_layout(void *st, obs_layout *L, const sim_state *s)
{
    (void)s;   /* every dynamics has levels: never declines */
    ((hscl_bonds *)st)->col = obs_layout_add(L, "hscl_bond_fraction", 1, UNIT_NONE,
                                             "fraction of bonds joining two HSCLs (level >= 0)");
    return 0;
}

static void hb_measure(void *st, const sim_state *s, double *row)
{
    const lattice *lat = &s->lat;
    int64_t bonds = 0, both = 0;
    for (int64_t a = 0; a < lat->N; a++)
        for (int d = DIR_PX; d <= DIR_PY; d++) {   /* each bond once: +x and +y */
            const int64_t b = lattice_nbr(lat, a, d);
            if (b < 0) continue;
            bonds++;
            both += s->st.level[a] >= 0 && s->st.level[b] >= 0;
        }
    row[((hscl_bonds *)st)->col] = bonds ? (double)both / (double)bonds : 0.0;
}

const obs_group_ops OBS_GROUP_HSCL_BONDS = {
    .name = "hscl_bonds",
    .state_size = sizeof(hscl_bonds),
    .layout = hb_layout,
    .measure = hb_measure,   /* no begin: it keeps no marks between measurements */
};
