/* The XDMF sidecar and the views it reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/xdmf.h"

static int write_mesh_array(hid_t g, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                            hsize_t width, const void *buf)
{
    const hsize_t dims[2] = {n, width};
    /* the regular corner and index patterns deflate to almost nothing */
    hsize_t chunk[2] = {n < 16384 ? n : 16384, width};
    hid_t sp = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
    hid_t d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const int bad = d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return bad;
}

/* Corners (x, y) of the unit squares around the sites, and each site's
 * four corners counter-clockwise from its lower left. */
static int write_mesh(hid_t file, int Lx, int Ly)
{
    const hsize_t np = (hsize_t)(Lx + 1) * (hsize_t)(Ly + 1), nc = (hsize_t)Lx * (hsize_t)Ly;
    float *pt = malloc(sizeof *pt * 2 * np);
    int32_t *cell = malloc(sizeof *cell * 4 * nc);
    hid_t g = H5Gcreate2(file, "/xdmf/mesh", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = !pt || !cell || g < 0;
    for (int y = 0; !bad && y <= Ly; y++)
        for (int x = 0; x <= Lx; x++) {
            pt[2 * ((size_t)y * (size_t)(Lx + 1) + (size_t)x)] = (float)x;
            pt[2 * ((size_t)y * (size_t)(Lx + 1) + (size_t)x) + 1] = (float)y;
        }
    for (int y = 0; !bad && y < Ly; y++)
        for (int x = 0; x < Lx; x++) {
            int32_t *c = cell + 4 * ((size_t)y * (size_t)Lx + (size_t)x);
            const int32_t ll = y * (Lx + 1) + x;
            c[0] = ll;
            c[1] = ll + 1;
            c[2] = ll + Lx + 2;
            c[3] = ll + Lx + 1;
        }
    bad = bad || write_mesh_array(g, "points", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, np, 2, pt) ||
          write_mesh_array(g, "cells", H5T_STD_I32LE, H5T_NATIVE_INT32, nc, 4, cell);
    if (g >= 0) H5Gclose(g);
    free(pt);
    free(cell);
    return bad;
}

/* /xdmf/<field>/<k>: a virtual dataset of [Ly Lx] (x components) that is
 * row k of the field's [n][Ly][Lx] (x components) source in this file. */
static int write_view(hid_t g, const xdmf_field *f, int Lx, int Ly, int64_t k)
{
    const hsize_t cells = (hsize_t)Lx * (hsize_t)Ly;
    const hsize_t vdims[2] = {cells, (hsize_t)f->components};
    const hsize_t sdims[4] = {(hsize_t)k + 1, (hsize_t)Ly, (hsize_t)Lx, (hsize_t)f->components};
    const hsize_t start[4] = {(hsize_t)k, 0, 0, 0}, count[4] = {1, sdims[1], sdims[2], sdims[3]};
    const int srank = f->components > 1 ? 4 : 3;
    hid_t vs = H5Screate_simple(f->components > 1 ? 2 : 1, vdims, NULL);
    hid_t ss = H5Screate_simple(srank, sdims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    char name[32];
    snprintf(name, sizeof name, "%06lld", (long long)k);
    int bad = H5Sselect_hyperslab(ss, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Pset_virtual(dcpl, vs, ".", f->source, ss) < 0;
    hid_t d = bad ? -1 : H5Dcreate2(g, name, f->type, vs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bad = bad || d < 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(ss);
    H5Sclose(vs);
    return bad;
}

int xdmf_write_views(hid_t file, const xdmf_series *x, sm_error *err)
{
    hid_t top = H5Gcreate2(file, "/xdmf", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = top < 0 || write_mesh(file, x->Lx, x->Ly);
    for (int i = 0; i < x->nfields && !bad; i++) {
        hid_t g = H5Gcreate2(top, x->field[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = g < 0;
        for (int64_t k = 0; k < x->nframes && !bad; k++)
            bad = write_view(g, &x->field[i], x->Lx, x->Ly, k);
        if (g >= 0) H5Gclose(g);
    }
    if (top >= 0) H5Gclose(top);
    return bad ? sm_fail(err, "cannot write the XDMF views under /xdmf") : 0;
}

/* name with the XML special characters escaped */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void data_item(FILE *f, const char *h5name, const char *dims, const char *type, int precision,
                      const char *path)
{
    fprintf(f, "          <DataItem Dimensions=\"%s\" NumberType=\"%s\" Precision=\"%d\" Format=\"HDF\">",
            dims, type, precision);
    xml_text(f, h5name);
    fprintf(f, ":%s</DataItem>\n", path);
}

/* One uniform grid: snapshot k at its time, every field a cell attribute. */
static void write_grid(FILE *f, const char *h5name, const xdmf_series *x, int64_t k)
{
    const long long np = (long long)(x->Lx + 1) * (x->Ly + 1), nc = (long long)x->Lx * x->Ly;
    char dims[64], path[160];
    fprintf(f, "      <Grid Name=\"sweep %.17g\" GridType=\"Uniform\">\n"
               "        <Time Value=\"%.17g\"/>\n"
               "        <Topology TopologyType=\"Quadrilateral\" NumberOfElements=\"%lld\">\n",
            x->time[k], x->time[k], nc);
    snprintf(dims, sizeof dims, "%lld 4", nc);
    data_item(f, h5name, dims, "Int", 4, "/xdmf/mesh/cells");
    fprintf(f, "        </Topology>\n        <Geometry GeometryType=\"XY\">\n");
    snprintf(dims, sizeof dims, "%lld 2", np);
    data_item(f, h5name, dims, "Float", 4, "/xdmf/mesh/points");
    fprintf(f, "        </Geometry>\n");
    for (int i = 0; i < x->nfields; i++) {
        const xdmf_field *fl = &x->field[i];
        fprintf(f, "        <Attribute Name=\"%s\" AttributeType=\"%s\" Center=\"Cell\">\n", fl->name,
                fl->components > 1 ? "Vector" : "Scalar");
        if (fl->components > 1) snprintf(dims, sizeof dims, "%lld %d", nc, fl->components);
        else snprintf(dims, sizeof dims, "%lld", nc);
        snprintf(path, sizeof path, "/xdmf/%s/%06lld", fl->name, (long long)k);
        data_item(f, h5name, dims, fl->number_type, fl->precision, path);
        fprintf(f, "        </Attribute>\n");
    }
    fprintf(f, "      </Grid>\n");
}

int xdmf_write_sidecar(const char *xmf_path, const char *h5_path, const xdmf_series *x,
                       sm_error *err)
{
    char tmp[4200];
    if (strlen(xmf_path) > sizeof tmp - 16) return sm_fail(err, "%s: path too long", xmf_path);
    snprintf(tmp, sizeof tmp, "%s.partial", xmf_path);
    const char *slash = strrchr(h5_path, '/');
    const char *h5name = slash ? slash + 1 : h5_path;   /* the sidecar lies beside it */
    errno = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) return sm_fail(err, "%s: cannot write the XDMF sidecar: %s", tmp, strerror(errno));
    fprintf(f, "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n"
               "<Xdmf Version=\"3.0\">\n  <Domain>\n"
               "    <Grid Name=\"snapshots\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
    for (int64_t k = 0; k < x->nframes; k++) write_grid(f, h5name, x, k);
    fprintf(f, "    </Grid>\n  </Domain>\n</Xdmf>\n");
    const int bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        unlink(tmp);
        return sm_fail(err, "%s: cannot write the XDMF sidecar (disk full?)", tmp);
    }
    if (rename(tmp, xmf_path) != 0)
        return sm_fail(err, "%s: cannot rename %s into place: %s", xmf_path, tmp, strerror(errno));
    return 0;
}

void xdmf_write_markdown(FILE *md)
{
    fprintf(md,
            "| `/xdmf/mesh/points` | float32 [(Ly+1)(Lx+1)][2] | | corners (x, y) of the unit squares around the sites, for `<output>.xmf` |\n"
            "| `/xdmf/mesh/cells` | int32 [Ly Lx][4] | | the four corners of site y Lx + x |\n"
            "| `/xdmf/<field>/<k>` | as the field, [Ly Lx] or [Ly Lx][3] | | snapshot k (000000, 000001, ...) of the field: a virtual dataset that reads row k of `/snapshots/<field>/value` |\n");
}
