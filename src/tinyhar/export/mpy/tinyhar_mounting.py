# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar mounting: how the board is worn (written by `tinyhar export/deploy
# --mounting`, file mounting.json, see tinyhar.export.mounting).
#
#   {"mounting": "x=-y,y=x,z=z", "source": [1, 0, 2], "sign": [-1, 1, 1],
#    "reference": {"gravity_g": [1.0, -0.17, -0.02], "class": "STANDING",
#                  "n_windows": 812, "tolerance_deg": 30.0}}
#
# Training axis i (x, y, z) is sign[i] * board axis source[i], for the
# accelerometer and the gyroscope alike. Mapper turns a sensor sample into
# the model's channels; GravityCheck averages the first seconds (stand still)
# and compares gravity with the training data's (reference.gravity_g): if the
# angle is over tolerance_deg it names the training axis that is off and
# suggests a mounting that puts gravity where training has it. (A turn about
# the vertical axis leaves gravity unchanged: standing still cannot show it.)

import json
import math

AXES = ("x", "y", "z")


def load(path="mounting.json"):
    """The mounting dict of the bundle, or None when there is no file."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def spec(source, sign):
    """Text form of a mounting, e.g. 'x=-y,y=x,z=z'."""
    return ",".join(["%s=%s%s" % (AXES[i], "-" if sign[i] < 0 else "", AXES[source[i]])
                     for i in range(3)])


class Mapper:
    """Picks and maps the model's channels from a sensor sample.

    sensor_channels: names of the values the sensor's read() gives (board
    axes); model_channels: cfg.CHANNELS. An acc_*/gyro_* channel of the model
    reads sign * the board channel of the same sensor on axis source; other
    channels are taken by name.
    """

    def __init__(self, mount, sensor_channels, model_channels):
        source = mount["source"] if mount else (0, 1, 2)
        sign = mount["sign"] if mount else (1, 1, 1)
        names = tuple(sensor_channels)
        self.src = []
        self.sign = []
        for c in model_channels:
            name, s = c, 1.0
            if len(c) > 2 and c[-2] == "_" and c[-1] in AXES and c[:-2] in ("acc", "gyro"):
                i = AXES.index(c[-1])
                name, s = c[:-2] + "_" + AXES[source[i]], float(sign[i])
            if name not in names:
                raise ValueError("the sensor has no channel %s the model needs (as %s)"
                                 % (name, c))
            self.src.append(names.index(name))
            self.sign.append(s)
        self.acc = [model_channels.index("acc_" + a) if ("acc_" + a) in model_channels else -1
                    for a in AXES]

    def apply(self, buf, sample):
        src = self.src
        sign = self.sign
        for i in range(len(src)):
            sample[i] = sign[i] * buf[src[i]]


def _det_sign(source, sign):
    # determinant of a signed permutation: product of signs times the parity
    inv = 0
    for a in range(3):
        for b in range(a + 1, 3):
            if source[a] > source[b]:
                inv += 1
    return sign[0] * sign[1] * sign[2] * (-1 if inv % 2 else 1)


def suggest(source, sign, measured, reference):
    """A mounting (source, sign) that moves gravity from where it reads to the reference's axis."""
    i = max(range(3), key=lambda a: abs(reference[a]))
    j = max(range(3), key=lambda a: abs(measured[a]))
    si = 1 if reference[i] >= 0 else -1
    sj = 1 if measured[j] >= 0 else -1
    src = list(source)
    sgn = list(sign)
    if i == j and si == sj:  # gravity is where training has it: nothing to change
        return src, sgn
    if i == j:  # the right board axis, the wrong way round: turn 180 deg about another axis
        k = (i + 1) % 3
        sgn[i] = -sgn[i]
        sgn[k] = -sgn[k]
        return src, sgn
    # training i takes what training j reads now (with the sign that makes it point along
    # the reference), training j takes i's board axis; the sign of j keeps a rotation
    src[i], src[j] = source[j], source[i]
    sgn[i] = sign[j] * sj * si
    sgn[j] = 1
    if _det_sign(src, sgn) < 0:
        sgn[j] = -1
    return src, sgn


def compare(measured, reference, tolerance_deg, source=(0, 1, 2), sign=(1, 1, 1)):
    """(ok, message, screen lines) for mean gravity `measured` vs `reference` (g, training axes)."""
    mm = math.sqrt(sum([v * v for v in measured]))
    got = "x=%.2f y=%.2f z=%.2f g" % tuple(measured)
    if mm < 0.7 or mm > 1.3:
        return False, ("MOUNTING unsure: |a| = %.2f g (%s), not 1 g; stand still for "
                       "the check" % (mm, got)), ("stand still", "|a| %.2f g" % mm)
    if reference is None:
        return (True, "MOUNTING ok: %s (no training reference to compare with)" % got,
                ("mounting", "not checked"))
    rm = math.sqrt(sum([v * v for v in reference])) or 1.0
    dot = sum([measured[a] * reference[a] for a in range(3)]) / (mm * rm)
    angle = math.degrees(math.acos(max(-1.0, min(1.0, dot))))
    want = "x=%.2f y=%.2f z=%.2f g" % tuple(reference)
    if angle <= tolerance_deg:
        return True, ("MOUNTING ok: gravity %s, training %s (%.0f deg apart)"
                      % (got, want, angle)), ("%.0f deg" % angle,)
    i = max(range(3), key=lambda a: abs(reference[a]))
    j = max(range(3), key=lambda a: abs(measured[a]))
    src, sgn = suggest(source, sign, measured, reference)
    text = ("MOUNTING off by %.0f deg: axis %s reads %.2f g, training %.2f g (gravity is on "
            "%s%s: %s; training %s). Try mounting %s"
            % (angle, AXES[i], measured[i], reference[i], "-" if measured[j] < 0 else "+",
               AXES[j], got, want, spec(src, sgn)))
    return False, text, ("axis %s off" % AXES[i], spec(src, sgn))


class GravityCheck:
    """Averages the model-frame acceleration of the first n samples, then compares.

    add(sample) returns None until n samples are in, then once (ok, message,
    screen lines) of compare().
    """

    def __init__(self, mount, mapper, n):
        ref = mount.get("reference") if mount else None
        self.reference = ref["gravity_g"] if ref else None
        self.tolerance = ref.get("tolerance_deg", 30.0) if ref else 30.0
        self.source = mount["source"] if mount else (0, 1, 2)
        self.sign = mount["sign"] if mount else (1, 1, 1)
        self.acc = mapper.acc
        self.n = n if min(self.acc) >= 0 else 0
        self.count = 0
        self.sum = [0.0, 0.0, 0.0]

    def add(self, sample):
        if self.count >= self.n:
            return None
        for a in range(3):
            self.sum[a] += sample[self.acc[a]]
        self.count += 1
        if self.count < self.n:
            return None
        mean = [v / self.n for v in self.sum]
        return compare(mean, self.reference, self.tolerance, self.source, self.sign)
