# tinyhar tree-ensemble evaluator for MicroPython (pure Python, no native module).
#
# Reads the model written by `tinyhar export --target micropython` (model.bin)
# into a few typed arrays and predicts by walking the trees:
#
#   header  '<4s8H': magic b'THT1', n_features, n_classes, n_trees, n_nodes,
#           n_leaves, feature_bytes (1 or 2), leaf_bits, export format version
#   roots   int16[n_trees]       node index of each tree's root
#   feature uint8/uint16[n_nodes] feature index tested by each decision node
#   thresh  float32[n_nodes]     go left when x[feature] <= thresh
#   left    int16[n_nodes]       >= 0: node index; < 0: -(leaf + 1)
#   right   int16[n_nodes]
#   leaves  uint8[n_leaves * n_classes] quantised class probabilities, columns
#           in the model's order (scikit-learn's sorted classes_)
#   class_index uint8[n_classes] index in tinyhar_config.CLASSES (the data
#           set's declared class order) of each leaf column
#
# The class scores are integer sums of the leaves over the trees and the
# prediction is the first column with the highest score, exactly as
# tinyhar.models.trees.TreeEnsembleClassifier, reported as its index in
# CLASSES (integer sums are exact on every
# platform; the thresholds are float32, like the features, so `<=` agrees with
# the Python model bit for bit given the same features).
#
# RAM: about 9 bytes per node plus n_classes bytes per leaf (the file is read
# straight into the arrays, nothing else is kept).

import array
import struct

import micropython

# mirrors of tinyhar.export.formats (MODEL_MAGIC, MODEL_HEADER, MODEL_HEADER_SIZE,
# EXPORT_FORMAT_VERSION); tests/export/test_formats.py checks that they agree
MAGIC = b"THT1"
HEADER = "<4s8H"
HEADER_SIZE = 20
EXPORT_FORMAT_VERSION = 2


def _read_array(f, typecode, count, itemsize):
    a = array.array(typecode, bytearray(count * itemsize))
    if count and f.readinto(a) != count * itemsize:
        raise ValueError("model file is truncated")
    return a


class TreeEnsemble:
    """A tree ensemble loaded from tinyhar's model.bin.

    Attributes: n_features, n_classes, n_trees, n_nodes, n_leaves.
    """

    def __init__(self, path="model.bin"):
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
            if len(head) != HEADER_SIZE:
                raise ValueError("model file is truncated")
            magic, nf, nc, nt, nn, nl, fb, lb, version = struct.unpack(HEADER, head)
            if magic != MAGIC:
                raise ValueError("not a tinyhar model file (bad magic)")
            if version != EXPORT_FORMAT_VERSION:
                raise ValueError(
                    str(path) + " is export format " + str(version) + ", this "
                    "tinyhar_trees.py reads format " + str(EXPORT_FORMAT_VERSION)
                    + ": export the run again and copy the whole bundle")
            self.n_features = nf
            self.n_classes = nc
            self.n_trees = nt
            self.n_nodes = nn
            self.n_leaves = nl
            self.leaf_bits = lb
            self.roots = _read_array(f, "h", nt, 2)
            if fb == 1:
                self.feature = _read_array(f, "B", nn, 1)
            else:
                self.feature = _read_array(f, "H", nn, 2)
            self.threshold = _read_array(f, "f", nn, 4)
            self.left = _read_array(f, "h", nn, 2)
            self.right = _read_array(f, "h", nn, 2)
            self.leaves = _read_array(f, "B", nl * nc, 1)
            self.class_index = _read_array(f, "B", nc, 1)
        self.scores = array.array("i", bytearray(4 * nc))

    @micropython.native
    def scores_of(self, x):
        """Integer class scores (array 'i' of n_classes, reused) for features x."""
        scores = self.scores
        nc = int(self.n_classes)
        for c in range(nc):
            scores[c] = 0
        roots = self.roots
        feature = self.feature
        threshold = self.threshold
        left = self.left
        right = self.right
        leaves = self.leaves
        for t in range(int(self.n_trees)):
            node = int(roots[t])
            while node >= 0:
                if x[feature[node]] <= threshold[node]:
                    node = int(left[node])
                else:
                    node = int(right[node])
            base = (-node - 1) * nc
            for c in range(nc):
                scores[c] += leaves[base + c]
        return scores

    def predict(self, x):
        """Index in CLASSES of the predicted class for the feature array x ('f', n_features)."""
        scores = self.scores_of(x)
        best = 0
        top = scores[0]
        for c in range(1, self.n_classes):
            if scores[c] > top:
                top = scores[c]
                best = c
        return self.class_index[best]

    def predict_proba(self, x):
        """(class index, list of probabilities in CLASSES order) for the feature array x."""
        best = self.predict(x)
        scores = self.scores
        index = self.class_index
        total = 0
        for c in range(self.n_classes):
            total += scores[c]
        if total <= 0:
            total = 1
        proba = [0.0] * self.n_classes
        for c in range(self.n_classes):
            proba[index[c]] = scores[c] / total
        return best, proba
