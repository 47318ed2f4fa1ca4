/* The H5MD 1.1 metadata every softmatrix HDF5 file carries (run files,
 * sweep indexes, merged indexes), its attributes, and the resolved
 * configuration as a tree of datasets under /parameters:
 *
 *   /h5md                 attr version = [1, 1]
 *   /h5md/author          attr name  (SOFTMATRIX_AUTHOR, else the account's name)
 *   /h5md/creator         attrs name = "softmatrix", version
 *   /h5md/modules/units   attrs version = [1, 0], system (core/units.h)
 *
 * Units are `unit` attributes (core/units.h) on each dataset that holds a
 * quantity: on `value` and `time` of a time series, on the dataset itself
 * otherwise. */
#ifndef SM_H5MD_H
#define SM_H5MD_H

#include <hdf5.h>

/* Writes /h5md; non-zero on failure. */
int h5md_write_metadata(hid_t file);

/* Scalar attributes: a variable-length UTF-8 string (h5py reads a str), a
 * fixed-length ASCII string (what H5MD asks for its metadata), and a 1-D
 * array of n integers of the given type. Non-zero on failure. */
int h5md_attr_string(hid_t obj, const char *name, const char *value);
int h5md_attr_fixed(hid_t obj, const char *name, const char *value);
int h5md_attr_ints(hid_t obj, const char *name, hid_t type, const void *v, hsize_t n);
/* The `unit` attribute (variable-length ASCII, as the H5MD units module
 * asks); nothing for unit NULL. */
int h5md_attr_unit(hid_t obj, const char *unit);

/* Writes the resolved configuration config_json (config_to_json) below
 * group g: a group per section, a scalar dataset per key (int64, float64,
 * string or bool enum, with the key's unit), string lists as 1-D string
 * datasets, the schedule as columns T_from, T_to, sweeps, equilibration. */
int h5md_write_parameters(hid_t g, const char *config_json);

#endif
