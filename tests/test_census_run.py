"""Census during runs: /census series agree with the stored snapshots
(counted again here in numpy), and the summary prints the census table."""
import h5py
import numpy as np

from conftest import run_sm, small_config, write_config



def test_census_series_match_snapshots(sm_bin, tmp_path):
    out = tmp_path / "c.h5"
    cfg = small_config(out, lattice={"Lx": 40, "Ly": 40, "boundary": "periodic"},
                       run={"seed": 5, "equilibration_sweeps": 50, "sweeps": 300,
                            "measure_every": 1, "snapshot_every": 100, "census_every": 100},
                       temperature=5.5)
    rc, so, err = run_sm("run", write_config(tmp_path / "c.json", cfg))
    assert rc == 0, err
    assert "cluster census at sweep 350" in so
    with h5py.File(out) as f:
        steps = f["census/n_centres/step"][:]
        assert list(steps) == list(f["snapshots/level/step"][:]) == [150, 250, 350]
        lv = f["snapshots/level/value"][:].astype(int)
        for k in range(3):
            L = lv[k]
            centres = [(L == i).sum() for i in range(9)]
            ge = [(L >= i).sum() for i in range(9)]
            assert list(f["census/n_centres/value"][k]) == centres
            assert list(f["census/n_sites_ge/value"][k]) == ge
            # on a 40x40 periodic lattice every footprint fits, so for each level
            # the mean cluster composition is Table 1's (ideal RSOS geometry)
            arrows = f["census/mean_arrows/value"][k]
            cbos = f["census/mean_cbosons/value"][k]
            for i in range(8):
                if centres[i]:
                    assert arrows[i] == 8 * i + 4 and cbos[i] == 4 * (i + 1) ** 2
            if centres[8]:
                assert arrows[8] == 60 and cbos[8] == 312
        # components of {level >= 0} on a lattice of HSCLs: one, spanning both ways
        assert f["census/n_components/value"][-1][0] == 1
        assert f["census/n_span_x/value"][-1][0] == 1
        hist = f["census/component_size_histogram/value"][-1].reshape(9, 32)
        assert hist[0].sum() == 1 and hist[0][int(np.log2(1600))] == 1


def test_census_every_validated(sm_bin, tmp_path):
    cfg = small_config(tmp_path / "o.h5", run={"census_every": -1})
    rc, _, err = run_sm("run", write_config(tmp_path / "c.json", cfg))
    assert rc == 2 and "run.census_every: must be an integer in 0.." in err
