/* The sweep driver.
 *
 * Points run in forked children that call run_main, so a crash or a failed
 * point never takes the sweep down and the parent holds no simulation
 * state. The parent never enters an OpenMP parallel region and holds no
 * HDF5 file open while children exist, which is what makes fork safe with
 * libgomp and HDF5. A point is finished when its .h5 exists (run_main
 * renames the .partial into place only at the very end), so an interrupted
 * sweep resumes with the same command: finished points are kept, a .partial
 * is redone. The index is always rebuilt from the point files. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "io/config.h"
#include "io/index.h"
#include "io/outfile.h"
#include "run/run.h"
#include "scan/points.h"
#include "run/progress.h"
#include "scan/runner.h"

/* Everything a point needs, shared read-only by the children. */
typedef struct sweep_ctx {
    const char *src;
    sweep_spec spec;
    char *base;              /* the config without its sweep block, compact */
    char dir[CONFIG_PATH_MAX - 128]; /* room for /point_NNNN.h5.partial */
    int digits;
} sweep_ctx;

static void point_file(const sweep_ctx *x, int64_t p, char *out, size_t n, int with_dir)
{
    if (with_dir) snprintf(out, n, "%s/point_%0*lld.h5", x->dir, x->digits, (long long)p);
    else snprintf(out, n, "point_%0*lld.h5", x->digits, (long long)p);
}

/* The resolved config of point p. err names the swept key when the value
 * is what makes the point invalid. */
static int point_config(const sweep_ctx *x, int64_t p, sm_config *cfg, sm_error *err)
{
    char *sets[SWEEP_MAX_KEYS + 1];
    char file[CONFIG_PATH_MAX], outset[CONFIG_PATH_MAX + 64];
    int n = 0, rc = 1;
    for (int k = 0; k < x->spec.nkeys; k++)
        if (!(sets[n++] = sweep_point_set(&x->spec, p, k))) goto done;
    point_file(x, p, file, sizeof file, 1);
    cJSON *s = cJSON_CreateString(file);
    char *js = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    snprintf(outset, sizeof outset, "output.path=%s", js ? js : "\"\"");
    free(js);
    sets[n] = outset;
    sm_error e = {{0}};
    rc = config_parse(cfg, x->base, x->src, sets, n + 1, &e);
    if (rc) {
        /* "src: key: what" -> "src: sweep.keys.key: point p (values): what" */
        const size_t sl = strlen(x->src);
        const char *rest = strncmp(e.msg, x->src, sl) == 0 && e.msg[sl] == ':' ? e.msg + sl + 2 : e.msg;
        char desc[512];
        sweep_point_describe(&x->spec, p, desc, sizeof desc);
        int hit = -1;
        for (int k = 0; k < x->spec.nkeys && hit < 0; k++) {
            const size_t kl = strlen(x->spec.key[k].path);
            if (strncmp(rest, x->spec.key[k].path, kl) == 0 && strchr(":[.", rest[kl])) hit = k;
        }
        if (hit >= 0) {
            const size_t kl = strlen(x->spec.key[hit].path);
            const char *what = rest[kl] == ':' ? rest + kl + 2 : rest;
            sm_fail(err, "%s: sweep.keys.%s: point %lld (%s): %s", x->src, x->spec.key[hit].path,
                    (long long)p, desc, what);
        } else if (p == 0) {
            sm_fail(err, "%s", e.msg); /* the base config itself */
        } else {
            sm_fail(err, "%s: sweep point %lld (%s): %s", x->src, (long long)p, desc, rest);
        }
    }
done:
    for (int k = 0; k < x->spec.nkeys && k < n; k++) free(sets[k]);
    return rc;
}

/* 1 when two resolved configs agree on everything that shapes the result
 * (output.path and run.threads do not). */
static int same_run(const char *a, const char *b)
{
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    for (int i = 0; i < 2; i++) {
        cJSON *out = cJSON_GetObjectItemCaseSensitive(i ? jb : ja, "output");
        cJSON *run = cJSON_GetObjectItemCaseSensitive(i ? jb : ja, "run");
        if (out) cJSON_DeleteItemFromObjectCaseSensitive(out, "path");
        if (run) cJSON_DeleteItemFromObjectCaseSensitive(run, "threads");
    }
    int same = ja && jb && cJSON_Compare(ja, jb, 1);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return same;
}

/* Point p's run in this process; its exit code. */
static int run_point_here(const sweep_ctx *x, int64_t p, int threads, int overwrite)
{
    sm_config *cfg = malloc(sizeof *cfg);
    sm_error err = {{0}};
    int rc = SM_EXIT_RUNTIME;
    if (!cfg) sm_fail(&err, "out of memory");
    else if (point_config(x, p, cfg, &err)) rc = SM_EXIT_USAGE;
    else {
        run_options ro = {.output = NULL, .overwrite = overwrite, .quiet = 1, .threads = threads};
        rc = run_main(cfg, &ro, &err);
    }
    if (rc) fprintf(stderr, "softmatrix: sweep point %lld: %s\n", (long long)p, err.msg);
    fflush(stderr);
    free(cfg);
    return rc;
}

/* The child: run one point and leave. _exit keeps the parent's atexit
 * handlers and stdio buffers out of it. */
static void run_point_child(const sweep_ctx *x, int64_t p, int threads, int overwrite, pid_t parent)
{
    /* a sweep killed with SIGKILL takes its points along, so a resumed
     * sweep never races an orphan writing the same .partial */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(SM_EXIT_RUNTIME);
    _exit(run_point_here(x, p, threads, overwrite));
}

/* Point p in a child of this process, waited for; its exit code. */
static int run_point_forked(const sweep_ctx *x, int64_t p, int threads, int overwrite)
{
    const pid_t self = getpid();
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "softmatrix: sweep: cannot start point %lld: %s\n", (long long)p, strerror(errno));
        return SM_EXIT_RUNTIME;
    }
    if (pid == 0) run_point_child(x, p, threads, overwrite, self);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return SM_EXIT_RUNTIME;
    if (WIFSIGNALED(status))
        fprintf(stderr, "softmatrix: sweep point %lld: killed by signal %d\n", (long long)p, WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : SM_EXIT_RUNTIME;
}

typedef struct {
    pid_t pid;
    int64_t point;
    double t0;
} job;

/* Runs the todo points, jobs at a time; returns an SM_EXIT_* code. */
static int run_points(const sweep_ctx *x, const int64_t *todo, int64_t ntodo, int jobs,
                      int threads, const sweep_opts *o, int64_t nshard, int64_t nkept)
{
    job *run = calloc((size_t)jobs, sizeof *run);
    if (!run) { fprintf(stderr, "softmatrix: out of memory\n"); return SM_EXIT_RUNTIME; }
    const pid_t self = getpid();
    const double t0 = omp_get_wtime();
    int64_t next = 0, done = 0;
    int nrun = 0, code = SM_EXIT_OK;
    int64_t failed_point = -1;
    while (nrun > 0 || (next < ntodo && code == SM_EXIT_OK)) {
        while (nrun < jobs && next < ntodo && code == SM_EXIT_OK) {
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, "softmatrix: sweep: cannot start point %lld: %s\n",
                        (long long)todo[next], strerror(errno));
                code = SM_EXIT_RUNTIME;
                break;
            }
            if (pid == 0) run_point_child(x, todo[next], threads, o->overwrite, self);
            int slot = 0;
            while (run[slot].pid) slot++;
            run[slot] = (job){pid, todo[next++], omp_get_wtime()};
            nrun++;
        }
        if (nrun == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "softmatrix: sweep: waitpid: %s\n", strerror(errno));
            code = SM_EXIT_RUNTIME;
            break;
        }
        int slot = 0;
        while (slot < jobs && run[slot].pid != pid) slot++;
        if (slot == jobs) continue;
        const job j = run[slot];
        run[slot].pid = 0;
        nrun--;
        const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
            if (code == SM_EXIT_OK) failed_point = j.point;
            code = WIFEXITED(status) && WEXITSTATUS(status) == SM_EXIT_USAGE ? SM_EXIT_USAGE : SM_EXIT_RUNTIME;
            if (WIFSIGNALED(status))
                fprintf(stderr, "softmatrix: sweep point %lld: killed by signal %d\n",
                        (long long)j.point, WTERMSIG(status));
            continue;
        }
        done++;
        if (progress_wanted((progress_mode)o->progress, o->quiet)) {
            const double now = omp_get_wtime(), el = now - t0;
            char desc[256], eta[32], elapsed[32], running[128] = "";
            sweep_point_describe(&x->spec, j.point, desc, sizeof desc);
            fmt_duration(elapsed, sizeof elapsed, el);
            fmt_duration(eta, sizeof eta, el / (double)done * (double)(ntodo - done));
            for (int s = 0, n = 0; s < jobs; s++)
                if (run[s].pid && strlen(running) < sizeof running - 24)
                    snprintf(running + strlen(running), sizeof running - strlen(running), "%s%lld",
                             n++ ? "," : "", (long long)run[s].point);
            fprintf(stderr, "sweep: %lld/%lld points done  point %lld (%s) %.1f s  running [%s]  "
                    "elapsed %s  ETA %s\n", (long long)(nkept + done), (long long)nshard,
                    (long long)j.point, desc, now - j.t0, running, elapsed, eta);
        }
    }
    free(run);
    if (code != SM_EXIT_OK) {
        char what[64] = "stopped";
        if (failed_point >= 0) snprintf(what, sizeof what, "point %lld failed", (long long)failed_point);
        fprintf(stderr, "softmatrix: sweep: %s; %lld of %lld points are finished and kept, rerun "
                "the same command to resume\n", what, (long long)(nkept + done), (long long)nshard);
    }
    return code;
}

/* Index rows for the shard's points, from the sweep block and the files;
 * status (NULL: all finished) marks failed points, whose summary columns
 * stay NaN and whose exit code goes to the column "status". */
static int write_index(const sweep_ctx *x, const int64_t *pts, int64_t n, const char *shard,
                       const int *status, const char *path, sm_error *err)
{
    sweep_index ix;
    if (index_init(&ix, n, x->spec.npoints, shard, x->spec.json, x->base, x->src, err)) {
        index_free(&ix);
        return 1;
    }
    int rc = 1;
    ix_column *pc = index_column(&ix, "point", IX_I64, 0, err);
    ix_column *fc = index_column(&ix, "file", IX_STR, 0, err);
    if (!pc || !fc) goto done;
    ix_column *sc = NULL;
    for (int64_t r = 0; status && r < n && !sc; r++)
        if (status[r] && !(sc = index_column(&ix, "status", IX_I64, 0, err))) goto done;
    ix_column *val[SWEEP_MAX_KEYS], *pos[SWEEP_MAX_KEYS], *lab[SWEEP_MAX_KEYS];
    for (int k = 0; k < x->spec.nkeys; k++) {
        const sweep_key *K = &x->spec.key[k];
        char name[256];
        const ix_type t = K->kind == SWEEP_NUMBER ? IX_F64
                        : (K->kind == SWEEP_INTEGER || K->kind == SWEEP_BOOL) ? IX_I64 : IX_STR;
        snprintf(name, sizeof name, "parameters/%s", K->path);
        val[k] = index_column(&ix, name, t, 0, err);
        snprintf(name, sizeof name, "parameter_index/%s", K->path);
        pos[k] = index_column(&ix, name, IX_I64, 0, err);
        snprintf(name, sizeof name, "labels/%s", K->path);
        lab[k] = K->label ? index_column(&ix, name, IX_STR, 0, err) : NULL;
        if (!val[k] || !pos[k] || (K->label && !lab[k])) goto done;
    }
    for (int64_t r = 0; r < n; r++) {
        const int64_t p = pts[r];
        char file[CONFIG_PATH_MAX], full[CONFIG_PATH_MAX];
        point_file(x, p, file, sizeof file, 0);
        point_file(x, p, full, sizeof full, 1);
        pc->i[r] = p;
        if (index_set_string(fc, r, file)) { sm_fail(err, "index: out of memory"); goto done; }
        int vi[SWEEP_MAX_KEYS];
        sweep_point_values(&x->spec, p, vi);
        for (int k = 0; k < x->spec.nkeys; k++) {
            const sweep_key *K = &x->spec.key[k];
            pos[k]->i[r] = vi[k];
            if (val[k]->type == IX_F64) val[k]->f[r] = K->num[vi[k]];
            else if (val[k]->type == IX_I64) val[k]->i[r] = (int64_t)K->num[vi[k]];
            else {
                /* strings as themselves, anything else as its JSON text */
                cJSON *v = cJSON_Parse(K->json[vi[k]]);
                const char *s = cJSON_IsString(v) ? v->valuestring : K->json[vi[k]];
                int bad = index_set_string(val[k], r, s);
                cJSON_Delete(v);
                if (bad) { sm_fail(err, "index: out of memory"); goto done; }
            }
            if (lab[k] && index_set_string(lab[k], r, K->label[vi[k]])) {
                sm_fail(err, "index: out of memory");
                goto done;
            }
        }
        if (sc) sc->i[r] = status[r];
        if ((!sc || !status[r]) && index_add_point_summary(&ix, r, full, err)) goto done;
    }
    for (int k = 0; k < ix.ncol; k++)
        if (ix.col[k]->conflict)
            fprintf(stderr, "softmatrix: sweep: index: %s left out (its width differs between points)\n",
                    ix.col[k]->name);
    rc = index_write(&ix, path, 1, err);
done:
    index_free(&ix);
    return rc;
}

/* --set sweep.keys.run.seed=[1,2]: the rest of the path after sweep.keys is
 * one key path, dots and all, which the generic override would split.
 * Returns -1 when set is not of that form, 1 (err set) for a bad value. */
static int set_sweep_key(cJSON *root, const char *set, const char *src, sm_error *err)
{
    static const char prefix[] = "sweep.keys.";
    const char *eq = strchr(set, '=');
    if (strncmp(set, prefix, sizeof prefix - 1) != 0 || !eq || eq == set + sizeof prefix - 1) return -1;
    char key[SWEEP_KEY_MAX];
    snprintf(key, sizeof key, "%.*s", (int)(eq - set - (sizeof prefix - 1)), set + sizeof prefix - 1);
    cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sweep");
    if (!sw) sw = cJSON_AddObjectToObject(root, "sweep");
    cJSON *keys = cJSON_IsObject(sw) ? cJSON_GetObjectItemCaseSensitive(sw, "keys") : NULL;
    if (cJSON_IsObject(sw) && !keys) keys = cJSON_AddObjectToObject(sw, "keys");
    if (!cJSON_IsObject(keys)) return -1; /* let the parser complain */
    cJSON *val = config_set_value(set, src, err);
    if (!val) return 1;
    if (cJSON_GetObjectItemCaseSensitive(keys, key)) cJSON_ReplaceItemInObjectCaseSensitive(keys, key, val);
    else cJSON_AddItemToObject(keys, key, val);
    return 0;
}

/* Reads the config, applies --set, splits off and expands the sweep block. */
static int load_sweep(sweep_ctx *x, const sweep_opts *o, sm_error *err)
{
    char *text = config_read_text(o->config, err);
    if (!text) return 1;
    cJSON *root = config_parse_json(text, o->config, err);
    free(text);
    if (!root) return 1;
    int rc = 1;
    for (int i = 0; i < o->nsets; i++) {
        const int k = set_sweep_key(root, o->sets[i], o->config, err);
        if (k > 0 || (k < 0 && config_apply_set(root, o->sets[i], o->config, err))) goto done;
    }
    cJSON *block = cJSON_DetachItemFromObjectCaseSensitive(root, "sweep");
    if (!block) {
        sm_fail(err, "%s: sweep: missing (softmatrix sweep needs a \"sweep\" block; see 'softmatrix "
                "sweep --help')", o->config);
        goto done;
    }
    int bad = sweep_parse(&x->spec, block, o->config, err);
    cJSON_Delete(block);
    if (bad) goto done;
    x->base = sweep_json_print(root);
    if (!x->base) { sm_fail(err, "out of memory"); goto done; }
    if (o->outdir) {
        snprintf(x->dir, sizeof x->dir, "%s", o->outdir);
    } else {
        cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");
        cJSON *path = out ? cJSON_GetObjectItemCaseSensitive(out, "path") : NULL;
        snprintf(x->dir, sizeof x->dir, "%s", cJSON_IsString(path) ? path->valuestring : "softmatrix");
        size_t n = strlen(x->dir);
        if (n > 3 && strcmp(x->dir + n - 3, ".h5") == 0) x->dir[n - 3] = 0;
    }
    size_t n = strlen(x->dir);
    if (n >= sizeof x->dir - 1) { sm_fail(err, "%s: output directory: longer than %d characters", o->config, (int)sizeof x->dir - 2); goto done; }
    while (n > 1 && x->dir[n - 1] == '/') x->dir[--n] = 0;
    if (!n) { sm_fail(err, "%s: --output-dir: must not be empty", o->config); goto done; }
    x->digits = 4;
    for (int64_t m = x->spec.npoints - 1; m >= 10000; m /= 10) x->digits++;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* The points of this shard (all of them when unsharded). */
static int64_t shard_points(const sweep_ctx *x, const sweep_opts *o, int64_t *pts)
{
    int64_t n = 0;
    for (int64_t p = 0; p < x->spec.npoints; p++)
        if (!o->shard_n || p % o->shard_n == o->shard_k - 1) pts[n++] = p;
    return n;
}

/* Tab-separated, values as exact JSON, for scripts: each point of the
 * shard validated and printed as it comes, so that a long listing starts at
 * once and needs no memory per point. Returns an SM_EXIT_* code. */
static int list_points(const sweep_ctx *x, const sweep_opts *o, sm_config *cfg, sm_error *err)
{
    for (int64_t p = 0; p < x->spec.npoints; p++) {
        if (o->shard_n && p % o->shard_n != o->shard_k - 1) continue;
        if (point_config(x, p, cfg, err)) return SM_EXIT_USAGE;
        char file[CONFIG_PATH_MAX];
        int vi[SWEEP_MAX_KEYS];
        point_file(x, p, file, sizeof file, 1);
        sweep_point_values(&x->spec, p, vi);
        printf("%lld\t%s", (long long)p, file);
        for (int k = 0; k < x->spec.nkeys; k++)
            printf("\t%s=%s", x->spec.key[k].path, x->spec.key[k].json[vi[k]]);
        if (printf("\n") < 0) return sm_fail(err, "sweep --list: cannot write to standard output"), SM_EXIT_RUNTIME;
    }
    return fflush(stdout) ? (sm_fail(err, "sweep --list: cannot write to standard output"), SM_EXIT_RUNTIME)
                          : SM_EXIT_OK;
}

/* The points still to run: those without a finished file. A finished file
 * is kept only if it is this point (else the scan is refused). */
static int points_to_run(const sweep_ctx *x, const sweep_opts *o, const int64_t *pts, int64_t npts,
                         int64_t *todo, int64_t *ntodo, int64_t *npartial, sm_config *cfg,
                         sm_error *err)
{
    *ntodo = *npartial = 0;
    for (int64_t r = 0; r < npts; r++) {
        char file[CONFIG_PATH_MAX], partial[CONFIG_PATH_MAX + 16];
        point_file(x, pts[r], file, sizeof file, 1);
        snprintf(partial, sizeof partial, "%s.partial", file);
        struct stat st;
        if (!o->overwrite && stat(file, &st) == 0) {
            if (point_config(x, pts[r], cfg, err)) return 1;
            char *have = index_point_config(file), *want = config_to_json(cfg);
            const int same = have && want && same_run(have, want);
            free(have);
            free(want);
            if (!same)
                return sm_fail(err, "%s: exists but is not point %lld of this sweep (another config wrote "
                               "it; use another --output-dir, or --overwrite to rerun every point)", file,
                               (long long)pts[r]);
            continue;
        }
        if (stat(partial, &st) == 0) ++*npartial;
        todo[(*ntodo)++] = pts[r];
    }
    return 0;
}

/* Points in flight x threads each, from the thread budget: independent
 * points scale perfectly, threads within a point do not. */
static void plan_threads(const sweep_opts *o, int64_t ntodo, int *jobs, int *tpp)
{
    const int budget = o->budget ? o->budget : omp_get_max_threads();
    *jobs = o->jobs;
    *tpp = o->tpp;
    if (!*jobs && !*tpp) {
        *jobs = ntodo < budget ? (int)(ntodo ? ntodo : 1) : budget;
        *tpp = budget / *jobs > 0 ? budget / *jobs : 1;
    } else if (!*tpp) {
        *tpp = budget / *jobs > 0 ? budget / *jobs : 1;
    } else if (!*jobs) {
        *jobs = budget / *tpp > 0 ? budget / *tpp : 1;
        if (*jobs > ntodo && ntodo > 0) *jobs = (int)ntodo;
    }
}

static void announce(const sweep_ctx *x, const sweep_opts *o, int64_t npts, int64_t ntodo,
                     int64_t npartial, int jobs, int tpp)
{
    fprintf(stderr, "softmatrix sweep: %s, %lld points (%s of", o->config, (long long)x->spec.npoints,
            x->spec.mode == SWEEP_ZIP ? "zip" : "product");
    for (int k = 0; k < x->spec.nkeys; k++)
        fprintf(stderr, "%s %s[%d]", k ? "," : "", x->spec.key[k].path, x->spec.key[k].nvalues);
    fprintf(stderr, ")");
    if (o->shard_n) fprintf(stderr, ", shard %d/%d: %lld points", o->shard_k, o->shard_n, (long long)npts);
    fprintf(stderr, "; %lld finished earlier and kept, %lld to run", (long long)(npts - ntodo),
            (long long)ntodo);
    if (npartial) fprintf(stderr, " (%lld interrupted, redone)", (long long)npartial);
    if (o->farm) fprintf(stderr, "; farmed out one point per worker rank -> %s/\n", x->dir);
    else fprintf(stderr, "; %d job%s x %d thread%s -> %s/\n", jobs, jobs > 1 ? "s" : "", tpp,
                 tpp > 1 ? "s" : "", x->dir);
}

/* The farm's run of todo, as a status per row of pts (*status, malloc'd;
 * 0 for points finished earlier). */
static int farm_points(const sweep_opts *o, const int64_t *pts, int64_t npts, const int64_t *todo,
                       int64_t ntodo, int **status)
{
    int *st = calloc((size_t)(npts ? npts : 1), sizeof *st);
    int *tst = calloc((size_t)(ntodo ? ntodo : 1), sizeof *tst);
    int code = SM_EXIT_RUNTIME;
    if (!st || !tst) fprintf(stderr, "softmatrix: sweep: out of memory\n");
    else code = o->farm->run(o->farm, todo, ntodo, o->tpp ? o->tpp : o->budget, o->quiet, tst);
    /* todo is an ordered subset of pts */
    for (int64_t r = 0, t = 0; st && tst && r < npts && t < ntodo; r++)
        if (pts[r] == todo[t]) st[r] = tst[t++];
    free(tst);
    *status = st;
    return code;
}

/* One line naming the failed points (at most 20); their number. */
static int64_t report_failed(const int64_t *pts, int64_t npts, const int *status)
{
    int64_t n = 0;
    char list[256] = "";
    for (int64_t r = 0; status && r < npts; r++) {
        if (!status[r]) continue;
        if (n++ < 20)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%lld", n > 1 ? ", " : "",
                     (long long)pts[r]);
    }
    if (n)
        fprintf(stderr, "softmatrix: sweep: %lld of %lld points failed (%s%s); the index reports them "
                "in its status column, rerun the same command to redo them\n", (long long)n,
                (long long)npts, list, n > 20 ? ", ..." : "");
    return n;
}

/* Runs the points of pts that are not finished, then writes the index. */
static int run_and_index(const sweep_ctx *x, const sweep_opts *o, const int64_t *pts, int64_t npts,
                         int64_t *todo, const char *index_path, sm_config *cfg, sm_error *err)
{
    int64_t ntodo, npartial;
    char shard[32] = "";
    if (o->shard_n) snprintf(shard, sizeof shard, "%d/%d", o->shard_k, o->shard_n);
    if (points_to_run(x, o, pts, npts, todo, &ntodo, &npartial, cfg, err)) return SM_EXIT_USAGE;
    int jobs, tpp;
    plan_threads(o, ntodo, &jobs, &tpp);
    if (!o->quiet) announce(x, o, npts, ntodo, npartial, jobs, tpp);
    const double t0 = omp_get_wtime();
    int *status = NULL;
    const int code = o->farm ? farm_points(o, pts, npts, todo, ntodo, &status)
                             : run_points(x, todo, ntodo, jobs, tpp, o, npts, npts - ntodo);
    if (code != SM_EXIT_OK) return free(status), -code;   /* reported by the runner */
    const int bad = write_index(x, pts, npts, shard, status, index_path, err);
    const int64_t nfailed = report_failed(pts, npts, status);
    free(status);
    if (bad) return SM_EXIT_RUNTIME;
    if (nfailed) return -SM_EXIT_RUNTIME;
    if (!o->quiet) {
        char el[32];
        fmt_duration(el, sizeof el, omp_get_wtime() - t0);
        fprintf(stderr, "softmatrix sweep: %lld points done (%lld run, %lld kept) in %s\n",
                (long long)npts, (long long)ntodo, (long long)(npts - ntodo), el);
        printf("wrote %s\n", index_path);
    }
    return SM_EXIT_OK;
}

/* The sweep holds the lock of its index (one sweep, or one shard of it,
 * per directory at a time); each point's run holds its point file's. */
static int run_locked(const sweep_ctx *x, const sweep_opts *o, const int64_t *pts, int64_t npts,
                      int64_t *todo, sm_config *cfg, sm_error *err)
{
    char index_path[CONFIG_PATH_MAX + 64];
    if (o->shard_n)
        snprintf(index_path, sizeof index_path, "%s/index_shard_%d_of_%d.h5", x->dir, o->shard_k, o->shard_n);
    else
        snprintf(index_path, sizeof index_path, "%s/index.h5", x->dir);
    if (outfile_mkdirs(index_path, err)) return SM_EXIT_RUNTIME;
    outfile_lock lock;
    int busy;
    if (outfile_lock_take(&lock, index_path, &busy, err)) return SM_EXIT_RUNTIME;
    const int code = run_and_index(x, o, pts, npts, todo, index_path, cfg, err);
    outfile_lock_release(&lock);
    return code;
}

int sweep_execute(const sweep_opts *o)
{
    sweep_ctx x = {0};
    x.src = o->config;
    sm_error err = {{0}};
    int64_t *pts = NULL, *todo = NULL;
    sm_config *cfg = malloc(sizeof *cfg);
    int code = SM_EXIT_USAGE;
    if (!cfg) {
        sm_fail(&err, "out of memory");
        code = SM_EXIT_RUNTIME;
    } else if (o->rpp > 1 && !o->farm && !o->list) {
        sm_fail(&err, "sweep: --ranks-per-point %d: needs build/softmatrix-mpi started by mpirun with "
                "at least %d ranks (rank 0 hands the points out)", o->rpp, o->rpp + 1);
    } else if (load_sweep(&x, o, &err)) {
        code = SM_EXIT_USAGE;
    } else if (o->list) {
        code = list_points(&x, o, cfg, &err);
    } else {
        const int64_t np = x.spec.npoints;
        /* every point of the whole sweep, not only this shard's, so that a
         * bad value stops all shards before any of them spends machine time */
        int64_t p = 0;
        while (p < np && !point_config(&x, p, cfg, &err)) p++;
        pts = p == np ? malloc(sizeof *pts * (size_t)np) : NULL;
        todo = pts ? malloc(sizeof *todo * (size_t)np) : NULL;
        if (p == np && !todo) code = (sm_fail(&err, "out of memory"), SM_EXIT_RUNTIME);
        else if (todo) {
            const int64_t npts = shard_points(&x, o, pts);
            code = run_locked(&x, o, pts, npts, todo, cfg, &err);
        }
    }
    if (code > SM_EXIT_OK) fprintf(stderr, "softmatrix: %s\n", err.msg);
    free(pts);
    free(todo);
    free(cfg);
    free(x.base);
    sweep_free(&x.spec);
    return code < 0 ? -code : code;
}

/* ---- farm workers (scan/runner.h) ------------------------------------- */

sweep_job *sweep_job_open(const sweep_opts *o, sm_error *err)
{
    sweep_ctx *x = calloc(1, sizeof *x);
    sm_config *cfg = malloc(sizeof *cfg);
    int bad = !x || !cfg;
    if (bad) sm_fail(err, "out of memory");
    if (!bad) {
        x->src = o->config;
        bad = load_sweep(x, o, err);
    }
    for (int64_t p = 0; !bad && p < x->spec.npoints; p++) bad = point_config(x, p, cfg, err);
    free(cfg);
    if (bad && x) {
        sweep_job_close(x);
        return NULL;
    }
    return x;
}

int sweep_job_run_point(const sweep_job *j, int64_t p, int threads, int overwrite)
{
    if (p < 0 || p >= j->spec.npoints) return SM_EXIT_USAGE;
    return run_point_forked(j, p, threads, overwrite);
}

int sweep_job_run_point_here(const sweep_job *j, int64_t p, int threads, int overwrite)
{
    if (p < 0 || p >= j->spec.npoints) return SM_EXIT_USAGE;
    return run_point_here(j, p, threads, overwrite);
}

void sweep_job_close(sweep_job *j)
{
    if (!j) return;
    free(j->base);
    sweep_free(&j->spec);
    free(j);
}
