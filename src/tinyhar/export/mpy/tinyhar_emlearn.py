# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar model on the emlearn_trees native module (emlearn-micropython), for
# boards that have it installed:
#
#   from tinyhar_emlearn import EmlearnTrees
#   model = EmlearnTrees("model.trees.csv")
#   k = model.predict(features)        # features: array('f', cfg.N_FEATURES)
#
# emlearn_trees compares int16 features with int16 thresholds (go left when
# x < t) and, with this CSV, counts one vote per tree (each leaf's most
# probable class). The exporter keeps only the features the trees use
# (cfg.EMLEARN_FEATURES) and scales feature j by 2**cfg.EMLEARN_SCALE_EXP[j]
# (thresholds are floor(t * scale) + 1, so x_q < t_q equals x <= t unless x and
# t fall in the same quantisation step). Predictions may therefore differ from
# tinyhar_trees.py (float32 thresholds, summed class probabilities) near
# thresholds and on close votes. At most 127 features (emlearn_trees' limit).

import array
import math

import emlearn_trees
import tinyhar_config as cfg
from tinyhar_features import check_format


class EmlearnTrees:
    def __init__(self, path="model.trees.csv"):
        check_format(cfg)  # the EMLEARN_* keys are of this export format
        if len(cfg.EMLEARN_FEATURES) > 127:
            raise ValueError("emlearn_trees accepts at most 127 features; this model uses %d"
                             % len(cfg.EMLEARN_FEATURES))
        self.model = emlearn_trees.new(cfg.EMLEARN_TREES, cfg.EMLEARN_NODES, cfg.EMLEARN_LEAVES)
        with open(path) as f:
            emlearn_trees.load_model(self.model, f)
        self.index = cfg.EMLEARN_FEATURES
        self.scale = [math.ldexp(1.0, e) for e in cfg.EMLEARN_SCALE_EXP]
        self.xq = array.array("h", bytearray(2 * len(self.index)))
        self.out = array.array("f", bytearray(4 * len(cfg.CLASSES)))

    def quantize(self, x):
        """int16 features for emlearn_trees (array 'h', reused)."""
        xq = self.xq
        floor = math.floor
        for j in range(len(self.index)):
            v = floor(x[self.index[j]] * self.scale[j])
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            xq[j] = v
        return xq

    def predict_proba(self, x):
        """(class index, votes per class as an 'f' array) for the features x."""
        self.model.predict(self.quantize(x), self.out)
        out = self.out
        best = 0
        for c in range(1, len(out)):
            if out[c] > out[best]:
                best = c
        return best, out

    def predict(self, x):
        return self.predict_proba(x)[0]
