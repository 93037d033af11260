"""Custom data sets described by YAML: units, metadata sources, validation messages."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.custom import DatasetDefinition, datetime_seconds, load_custom
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.errors import ConfigError, DataFormatError

EXAMPLE = r"""
name: my-wristband
files: "raw/*.csv"
sampling_rate_hz: 50
columns:
  time: t_ms
  acc_x: ax
  acc_y: ay
  acc_z: az
  gyro_x: gx
  gyro_y: gy
  gyro_z: gz
units:
  time: ms
  acc: m/s^2
  gyro: {full_scale: 2000, unit: deg/s, bits: 16}
file_pattern: '(?P<subject>[^_]+)_(?P<session>[^_]+)_(?P<label>\w+)\.csv'
classes: [walking, sitting, standing]
ignore_labels: [unknown]
citation: "Recorded by us"
licence: "CC BY 4.0"
"""


def write_yaml(folder, text: str, name: str = "data.yaml"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def write_csv(path, header: str, rows: list[str]):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


@pytest.fixture
def example(tmp_path):
    header = "t_ms,ax,ay,az,gx,gy,gz"
    write_csv(tmp_path / "raw" / "alice_morning_walking.csv", header, [
        "1000,0,0,9.80665,0,0,0",
        "1020,9.80665,0,0,16384,0,0",
        "1040,0,0,9.80665,0,-16384,0",
    ])
    write_csv(tmp_path / "raw" / "bob_evening_sitting.csv", header, [
        "0,0,0,9.80665,0,0,0",
        "20,0,0,9.80665,0,0,0",
    ])
    write_csv(tmp_path / "raw" / "bob_evening_unknown.csv", header, ["40,0,0,9.80665,0,0,0"])
    return write_yaml(tmp_path, EXAMPLE)


def test_docstring_example_loads_with_units_converted(example):
    rec = load_custom(example)
    frame = rec.frame
    assert rec.name == "my-wristband" and rec.citation == "Recorded by us"
    assert rec.sampling_rate_hz == 50.0
    assert rec.classes == ["walking", "sitting", "standing"]
    assert rec.subjects == ["alice", "bob"]
    assert rec.sessions == ["morning", "evening"]
    alice = frame[frame["subject"] == "alice"]
    np.testing.assert_allclose(alice["time"], [0.0, 0.02, 0.04])  # ms, from session start
    np.testing.assert_allclose(alice["acc_z"], [1.0, 0.0, 1.0], rtol=1e-6)  # m/s^2 -> g
    # 16384 counts at +-2000 deg/s, 16 bit = 1000 deg/s
    np.testing.assert_allclose(alice["gyro_x"].iloc[1], np.deg2rad(1000.0), rtol=1e-6)
    np.testing.assert_allclose(alice["gyro_y"].iloc[2], -np.deg2rad(1000.0), rtol=1e-6)
    assert list(alice["label"]) == ["walking"] * 3
    bob = frame[frame["subject"] == "bob"]
    # two files of one session joined and sorted by time; "unknown" is ignored -> unlabelled
    np.testing.assert_allclose(bob["time"], [0.0, 0.02, 0.04])
    assert list(bob["label"].astype(object).fillna("-")) == ["sitting", "sitting", "-"]


def test_definition_model_is_usable_directly():
    raw = {
        "files": "*.csv", "sampling_rate_hz": 100,
        "columns": {"acc_x": "x", "acc_y": "y", "acc_z": "z"},
        "constants": {"subject": "p1"},
    }
    definition = DatasetDefinition.model_validate(raw)
    assert definition.units.acc == "g" and definition.units.gyro == "rad/s"


def test_no_time_column_time_continues_across_files(tmp_path):
    write_csv(tmp_path / "s1_a.csv", "x,y,z,act", ["0,0,1000,walk", "0,0,1000,walk"])
    write_csv(tmp_path / "s1_b.csv", "x,y,z,act", ["0,0,1000,sit", "0,0,1000,"])
    path = write_yaml(tmp_path, """
        files: ["s1_*.csv"]
        sampling_rate_hz: 10
        columns: {acc_x: x, acc_y: y, acc_z: z, label: act}
        units: {acc: mg}
        file_pattern: '(?P<session>[^_]+)_\\w+\\.csv'
        constants: {subject: "007"}
        label_map: {walk: WALKING, sit: SITTING}
        """)
    rec = load_custom(path)
    frame = rec.frame
    assert rec.sessions == ["s1"] and rec.subjects == ["007"]
    np.testing.assert_allclose(frame["time"], [0.0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(frame["acc_z"], 1.0)
    assert list(frame["label"].astype(object).fillna("-")) == ["WALKING", "WALKING", "SITTING", "-"]
    assert rec.classes == ["SITTING", "WALKING"]  # inferred, sorted


def test_session_defaults_to_file_and_shared_names_get_subject_prefix(tmp_path):
    write_csv(tmp_path / "p1" / "run.csv", "x,y,z", ["0,0,1"] * 3)
    write_csv(tmp_path / "p2" / "run.csv", "x,y,z", ["0,0,1"] * 2)
    path = write_yaml(tmp_path, """
        files: "*/run.csv"
        sampling_rate_hz: 25
        columns: {acc_x: x, acc_y: y, acc_z: z}
        constants: {subject: someone}
        """)
    assert load_custom(path).sessions == ["p1/run", "p2/run"]
    write_csv(tmp_path / "both.csv", "x,y,z,who,take", ["0,0,1,a,1", "0,0,1,a,1", "0,0,1,b,1"])
    path = write_yaml(tmp_path, """
        files: both.csv
        sampling_rate_hz: 25
        columns: {acc_x: x, acc_y: y, acc_z: z, subject: who, session: take}
        """, name="both.yaml")
    rec = load_custom(path)
    assert rec.sessions == ["a-1", "b-1"]  # "1" used by two subjects


def test_parquet_and_npy_files(tmp_path):
    n = 6
    frame = pd.DataFrame({
        "ax": np.zeros(n), "ay": np.zeros(n), "az": np.full(n, 9.80665),
        "gx": np.full(n, 90.0), "gy": np.zeros(n), "gz": np.zeros(n),
        "who": ["p1"] * n, "what": ["walk"] * 3 + ["sit"] * 3,
    })
    frame.to_parquet(tmp_path / "rec.parquet")
    path = write_yaml(tmp_path, """
        files: "*.parquet"
        sampling_rate_hz: 50
        columns: {acc_x: ax, acc_y: ay, acc_z: az, gyro_x: gx, gyro_y: gy, gyro_z: gz,
                  subject: who, label: what}
        units: {acc: m/s^2, gyro: deg/s}
        """)
    rec = load_custom(path)
    np.testing.assert_allclose(rec.frame["acc_z"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(rec.frame["gyro_x"], np.pi / 2, rtol=1e-6)
    assert rec.classes == ["sit", "walk"]

    counts = np.array([[0, 0, 4096, 1], [0, 0, 4096, 2], [0, 4096, 0, 2]], dtype=np.int16)
    np.save(tmp_path / "p7.npy", counts)
    path = write_yaml(tmp_path, """
        files: "*.npy"
        sampling_rate_hz: 100
        columns: {acc_x: 0, acc_y: 1, acc_z: 2, label: 3}
        units: {acc: {full_scale: 8, bits: 16}}
        file_pattern: '(?P<subject>p\\d+)\\.npy'
        label_map: {"1": still, "2": moving}
        classes: [still, moving]
        """, name="npy.yaml")
    rec = load_custom(path)
    np.testing.assert_allclose(rec.frame["acc_z"], [1.0, 1.0, 0.0])  # 4096 * 8/32768 g
    assert list(rec.frame["label"]) == ["still", "moving", "moving"]
    assert rec.subjects == ["p7"]


def test_npy_needs_positions(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 3)))
    path = write_yaml(tmp_path, """
        files: "*.npy"
        sampling_rate_hz: 100
        columns: {acc_x: ax, acc_y: 1, acc_z: 2}
        constants: {subject: a}
        """)
    with pytest.raises(ConfigError, match="0-based positions"):
        load_custom(path)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ("columns: {acc_x: x, acc_y: y, acc_z: z, acc_q: q}",
         ["columns.acc_q: unknown key", "allowed keys: time, acc_x"]),
        ("columns: {acc_y: y, acc_z: z}", ["columns.acc_x: required key is missing"]),
        ("units: {acc: furlongs}", ["units.acc: unknown unit 'furlongs'", "m/s^2"]),
        ("units: {gyro: {full_scale: 0}}", ["units.gyro.full_scale", "greater than 0"]),
        ("units: {acc: {full_scale: 8, bitz: 12}}",
         ["units.acc.bitz: unknown key", "allowed keys: full_scale, bits, unit"]),
        ("units: {time: minutes}", ["units.time"]),
        ("sampling_rate_hz: -1", ["sampling_rate_hz: Input should be greater than 0"]),
        ("flavour: vanilla", ["flavour: unknown key", "sampling_rate_hz"]),
        ("file_pattern: '(?P<who>.*)'", ["file_pattern: named groups ['who']"]),
        ("file_pattern: '(?P<subject>[a-z'", ["file_pattern: not a valid regular expression"]),
        ("columns: {acc_x: [1], acc_y: y, acc_z: z}",
         ["columns.acc_x: expected a text or an integer"]),
        ("columns: {acc_x: x, acc_y: y, acc_z: z, gyro_x: a}", ["give all of"]),
        ("columns: {acc_x: x, acc_y: y, acc_z: z, subject: s}",
         ["subject is given by columns.subject and constants.subject"]),
        ("csv: {delim: ';'}", ["csv.delim: unknown key", "allowed keys: delimiter"]),
    ],
)
def test_invalid_definitions_name_file_and_key(tmp_path, change, fragments):
    base = {
        "files": "files: '*.csv'",
        "sampling_rate_hz": "sampling_rate_hz: 50",
        "columns": "columns: {acc_x: x, acc_y: y, acc_z: z}",
        "constants": "constants: {subject: s1}",
    }
    key = change.split(":")[0]
    lines = [v for k, v in base.items() if k != key] + [change]
    path = write_yaml(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        load_custom(path)
    message = str(err.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_yaml_syntax_and_shape_errors(tmp_path):
    path = write_yaml(tmp_path, "files: '*.csv'\ncolumns: {acc_x: x\nsampling_rate_hz: 5\n")
    with pytest.raises(ConfigError, match=r"data.yaml, line \d+, column \d+: invalid YAML"):
        load_custom(path)
    path = write_yaml(tmp_path, "- just\n- a list\n", name="list.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_custom(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_custom(tmp_path / "absent.yaml")



def test_definition_read_again_is_a_fresh_object_and_follows_edits(tmp_path):
    """A definition's parsed YAML is remembered by its text (each session task reads it
    again): the objects are separate, and an edited file is read as edited."""
    path = write_yaml(tmp_path, BASIC)
    first = DatasetDefinition.from_yaml(path)
    first.classes.append("run")
    first.columns.acc_x = "other"
    again = DatasetDefinition.from_yaml(path)
    assert again.classes == ["walk", "sit"] and again.columns.acc_x == "x"
    write_yaml(tmp_path, BASIC.replace("sampling_rate_hz: 50", "sampling_rate_hz: 25"))
    assert DatasetDefinition.from_yaml(path).sampling_rate_hz == 25
    write_yaml(tmp_path, "files: '*.csv'\ncolumns: {acc_x: x\nsampling_rate_hz: 5\n")
    for _ in range(2):  # an error is not remembered as a result
        with pytest.raises(ConfigError, match="invalid YAML"):
            DatasetDefinition.from_yaml(path)


BASIC = """
files: "*.csv"
sampling_rate_hz: 50
columns: {time: t, acc_x: x, acc_y: y, acc_z: z, label: act}
constants: {subject: s1}
classes: [walk, sit]
"""


def test_unmatched_pattern(tmp_path):
    path = write_yaml(tmp_path, BASIC)
    with pytest.raises(ConfigError, match=r"files: pattern '\*.csv' matches no file"):
        load_custom(path)


def test_unmatched_pattern_with_a_bracket_says_how_to_write_one(tmp_path):
    """A folder named 'my data [v2]' written into the pattern as is: '[v2]' is a character
    class in a glob; the message says to write '[[]'."""
    folder = tmp_path / "my data [v2]"
    folder.mkdir()
    (folder / "a.csv").write_text("t,x,y,z,act\n0,0,0,1,walk\n")
    path = write_yaml(tmp_path, BASIC.replace('"*.csv"', '"my data [v2]/*.csv"'))
    with pytest.raises(ConfigError, match=r"write a '\[' of a folder or file name as '\[\[\]'"):
        load_custom(path)


@pytest.mark.parametrize("pattern", [".", "/"])
def test_empty_glob_pattern_matches_no_file(tmp_path, pattern):
    """A pattern pathlib cannot glob ("." or the root) is a user error, not a traceback."""
    path = write_yaml(tmp_path, BASIC.replace('"*.csv"', f'"{pattern}"'))
    with pytest.raises(ConfigError, match=f"files: pattern '{pattern}' matches no file"):
        load_custom(path)


@pytest.mark.parametrize(
    ("rows", "line", "column", "fragment"),
    [
        (["0,0,0,1,walk", "1,0,0,1,walk", "2,0,abc,1,walk"], 4, "y", "'abc' is not a finite"),
        (["0,0,0,1,walk", "", "1,0,0,,walk"], 4, "z", "z value missing"),
        (["0,0,0,1,walk", "1,0,0,1,walk,extra"], 3, None, "6 fields"),
        (["0,0,0,1,walk,extra", "1,0,0,1,walk"], 2, None, "more fields than the header"),
        (["0,0,0,1,walk", "1,0,0,1,run"], 3, "act", "label 'run' is not in classes"),
        (["0,0,0,1,walk", "1,0,0,1,walk", "1,0,0,1,walk"], 4, "t", "repeats a sample"),
    ],
)
def test_malformed_csv_names_file_line_and_column(tmp_path, rows, line, column, fragment):
    data = write_csv(tmp_path / "rec.csv", "t,x,y,z,act", rows)
    path = write_yaml(tmp_path, BASIC)
    with pytest.raises(DataFormatError) as err:
        load_custom(path)
    assert err.value.path == str(data)
    assert err.value.line == line
    assert err.value.column == column
    assert fragment in str(err.value)


def test_ignore_labels_and_missing_column(tmp_path):
    write_csv(tmp_path / "rec.csv", "t,x,y,z,act", ["0,0,0,1,walk", "1,0,0,1,run"])
    path = write_yaml(tmp_path, BASIC + "ignore_labels: [run]\n")
    assert list(load_custom(path).frame["label"].astype(object).fillna("-")) == ["walk", "-"]
    write_csv(tmp_path / "rec.csv", "t,x,y,Z,act", ["0,0,0,1,walk"])
    with pytest.raises(DataFormatError, match=r"columns \['z'\] are not in the file"):
        load_custom(path)


def test_file_name_must_match_pattern(tmp_path):
    write_csv(tmp_path / "rec.csv", "t,x,y,z", ["0,0,0,1"])
    path = write_yaml(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z}
        file_pattern: '(?P<subject>[a-z]+)_(?P<label>[a-z]+)\\.csv'
        """)
    with pytest.raises(DataFormatError, match="does not match file_pattern"):
        load_custom(path)


def test_headerless_csv_with_positions_and_semicolons(tmp_path):
    (tmp_path / "a.txt").write_text("# exported\n0;0;1\n0;0;1,5\n")
    path = write_yaml(tmp_path, """
        files: "*.txt"
        format: csv
        csv: {delimiter: ";", header: false, skip_rows: 1, decimal: ","}
        sampling_rate_hz: 50
        columns: {acc_x: 0, acc_y: 1, acc_z: 2}
        constants: {subject: a}
        """)
    rec = load_custom(path)
    np.testing.assert_allclose(rec.frame["acc_z"], [1.0, 1.5])
    np.testing.assert_allclose(rec.frame["time"], [0.0, 0.02])


def test_acc_counts_out_of_range(tmp_path):
    write_csv(tmp_path / "a.csv", "x,y,z", ["0,0,40000"])
    path = write_yaml(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z}
        units: {acc: {full_scale: 2, bits: 16}}
        constants: {subject: a}
        """)
    with pytest.raises(ConfigError, match="16-bit"):
        load_custom(path)


def test_g_is_default_and_standard_gravity_exact(tmp_path):
    write_csv(tmp_path / "a.csv", "x,y,z", [f"0,0,{STANDARD_GRAVITY}"])
    path = write_yaml(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z}
        constants: {subject: a}
        """)
    # one sample is too little to judge units (the check needs 3 s)
    np.testing.assert_allclose(load_custom(path).frame["acc_z"], STANDARD_GRAVITY)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "got an empty file"),
        (b"- files\n- columns\n", "got a list"),
        (b"42\n", "got a number"),
        (b"files: '*.csv'\nname: caf\xe9\n", r"line 2: the dataset definition is not UTF-8"),
        (b"files: '*.csv'\ncitation: 2024-13-45\n", "invalid YAML value"),
    ],
)
def test_definition_shapes_and_encodings_are_config_errors(tmp_path, content, fragment):
    path = tmp_path / "data.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment) as caught:
        load_custom(path)
    assert "{type(raw)" not in str(caught.value)


@pytest.mark.parametrize("rate", ["1e300", "0", "-50", ".nan", ".inf", "banana"])
def test_absurd_sampling_rates_name_the_key(tmp_path, rate):
    write_csv(tmp_path / "a.csv", "x,y,z", ["0,0,1"])
    path = write_yaml(tmp_path, f"""
        files: "*.csv"
        sampling_rate_hz: {rate}
        columns: {{acc_x: x, acc_y: y, acc_z: z}}
        constants: {{subject: a}}
        """)
    with pytest.raises(ConfigError, match="sampling_rate_hz"):
        load_custom(path)


def test_checks_key_in_a_definition_is_validated(tmp_path):
    write_csv(tmp_path / "a.csv", "x,y,z", ["0,0,1"])
    path = write_yaml(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z}
        constants: {subject: a}
        checks: {unit: false}
        """)
    with pytest.raises(ConfigError, match=r"checks\.unit: unknown key; allowed keys: "
                       r"sampling_rate, time_order, units, clipping"):
        load_custom(path)


def test_bad_csv_value_in_a_later_chunk_names_its_line_and_text(tmp_path, monkeypatch):
    """A CSV column's parsed chunks are freed as they are converted; the error still quotes
    the value as written and its line."""
    from tinyhar.datasets import custom

    monkeypatch.setattr(custom, "CSV_CHUNK_ROWS", 100)
    n = 450
    frame = pd.DataFrame({"t": np.arange(n) / 50.0, "ax": np.zeros(n), "ay": np.zeros(n),
                          "az": np.ones(n)}).astype(object)
    frame.loc[321, "ay"] = "oops"
    frame.to_csv(tmp_path / "p1_x.csv", index=False)
    (tmp_path / "data.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az}\n"
        "file_pattern: '(?P<subject>[^_]+)_(?P<session>\\w+)\\.csv'\n"
        "checks: {units: false}\n"
    )
    with pytest.raises(DataFormatError, match=r"acc_y value 'oops' is not a finite number") as err:
        load_custom(tmp_path / "data.yaml")
    assert err.value.line == 323  # header line 1, row 321 on line 323
    frame.loc[321, "ay"] = 0.0
    frame.loc[401, "t"] = None  # missing time in the last chunk
    frame.to_csv(tmp_path / "p1_x.csv", index=False)
    with pytest.raises(DataFormatError, match=r"time value missing") as err:
        load_custom(tmp_path / "data.yaml")
    assert err.value.line == 403


def test_csv_text_columns_joined_chunk_by_chunk_keep_every_value(tmp_path, monkeypatch):
    """Label and subject chunks with different categories (and more than 127 subjects: wider
    codes) give the values of the file row by row."""
    from tinyhar.datasets import custom

    monkeypatch.setattr(custom, "CSV_CHUNK_ROWS", 100)
    n = 20_000
    rng = np.random.default_rng(3)
    labels = np.array(["walk", "sit", " walk ", None], dtype=object)[(np.arange(n) // 700) % 4]
    subject = np.array([f"p{i // 100}" for i in range(n)], dtype=object)  # 200 subjects
    frame = pd.DataFrame({"t": np.arange(n) % 100 / 50.0, "ax": rng.normal(0, 0.1, n),
                          "ay": rng.normal(0, 0.1, n), "az": rng.normal(1, 0.1, n),
                          "act": labels, "who": subject})
    frame.to_csv(tmp_path / "x.csv", index=False)
    (tmp_path / "data.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, label: act, subject: who}\n"
        "constants: {session: s}\nchecks: {units: false}\n"
    )
    rec = load_custom(tmp_path / "data.yaml")
    assert rec.classes == ["sit", "walk"]
    assert len(rec.subjects) == 200
    got = rec.frame  # (the file's rows: one session per subject, in order)
    expected = frame.assign(act=frame["act"].str.strip())
    assert got["label"].astype(object).fillna("-").tolist() == expected["act"].fillna("-").tolist()
    assert got["subject"].astype(str).tolist() == expected["who"].tolist()


# ------------------------------------------------------------------ date-time time columns
DATETIME = """
    files: "*.{ext}"
    sampling_rate_hz: 100
    columns: {{time: t, acc_x: x, acc_y: y, acc_z: z}}
    units: {{time: {unit}}}
    constants: {{subject: p1}}
    """


def test_datetime_seconds_are_since_the_epoch_in_utc():
    text = pd.Series(["2016-11-13 02:18:00", "2016-11-13T03:18:00.25+01:00",
                      "2016-11-13T02:18:01Z", "1970-01-01", None, "13/11/2016", "12.5"])
    start = 1479003480.0  # 2016-11-13 02:18:00 UTC (`date -u -d "2016-11-13 02:18" +%s`)
    np.testing.assert_allclose(datetime_seconds(text),
                               [start, start + 0.25, start + 1, 0, np.nan, np.nan, np.nan],
                               rtol=0, atol=1e-6)
    stamps = pd.Series(pd.date_range("2016-11-13 03:18", periods=2, freq="10ms",
                                     tz="Europe/Berlin"))  # UTC+1 in November
    np.testing.assert_allclose(datetime_seconds(stamps), [start, start + 0.01], rtol=0,
                               atol=1e-6)


def test_datetime_ns_are_exact_nanoseconds_since_the_epoch():
    from tinyhar.datasets.custom import NAT_NS, datetime_ns, epoch_seconds

    text = pd.Series(["2016-11-13 02:18:00.000000001", "2016-11-13T03:18:00.25+01:00", None,
                      "soon", "2300-01-01"])  # (2300: beyond int64 ns)
    start = 1479003480 * 10**9
    assert datetime_ns(text).tolist() == [start + 1, start + 250_000_000, NAT_NS, NAT_NS, NAT_NS]
    # the nearest float64 seconds (1 ns is below their resolution here)
    assert epoch_seconds(start + 250_000_000) == 1479003480.25
    assert np.isnan(epoch_seconds(NAT_NS))


def test_date_times_beyond_int64_nanoseconds_are_named(tmp_path):
    write_csv(tmp_path / "a.csv", "t,x,y,z", ["2016-11-13 02:18:00,0,0,1", "2300-01-01,0,0,1"])
    with pytest.raises(DataFormatError, match=r"line 3, column t: time value '2300-01-01' is "
                       r"outside the date-times tinyhar reads \(1678 to 2261\)"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="csv", unit="datetime")))
    (tmp_path / "a.csv").unlink()
    stamps = pd.Series(["2016-11-13", "2300-01-01"]).astype("datetime64[s]")
    pd.DataFrame({"t": stamps, "x": 0.0, "y": 0.0, "z": 1.0}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataFormatError, match=r"column t at row 2: time value .*2300-01-01.* is "
                       "outside the date-times tinyhar reads"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="datetime")))


def test_iso_datetime_text_loads_with_offsets_converted(tmp_path):
    # an offset is converted to UTC (row 3 is 10 ms after row 2), a 1 s step stays a gap;
    # a session's time starts at 0 (as for numbers)
    write_csv(tmp_path / "a.csv", "t,x,y,z", [
        "2016-11-13 02:18:00.000,0,0,1", "2016-11-13 02:18:00.010,0,0,1",
        "2016-11-13T03:18:00.020+01:00,0,0,1", "2016-11-13T02:18:01.030Z,0,0,1",
    ])
    rec = load_custom(write_yaml(tmp_path, DATETIME.format(ext="csv", unit="datetime")))
    assert rec.frame["time"].tolist() == [0, 0.01, 0.02, 1.03]  # exact (int ns subtracted)


@pytest.mark.parametrize("tz", [None, "Europe/Berlin"])
def test_parquet_timestamps_with_datetime_unit(tmp_path, tz):
    stamps = pd.date_range("2016-11-13 03:18:00", periods=5, freq="10ms", tz=tz)
    stamps = stamps.insert(5, stamps[-1] + pd.Timedelta(2, "s"))
    pd.DataFrame({"t": stamps, "x": 0.0, "y": 0.0, "z": 1.0}).to_parquet(tmp_path / "a.parquet")
    rec = load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="datetime")))
    assert rec.frame["time"].tolist() == [0, 0.01, 0.02, 0.03, 0.04, 2.04]


def test_datetime_unit_and_column_must_agree(tmp_path):
    # date-time text with a number unit: the message names the fix
    write_csv(tmp_path / "a.csv", "t,x,y,z", ["2016-11-13 02:18:00,0,0,1"] * 3)
    with pytest.raises(DataFormatError, match=r"a.csv, line 2, column t: time value "
                       r"'2016-11-13 02:18:00' is a date-time, not a number; set units.time: "
                       "datetime"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="csv", unit="s")))
    # text that is no ISO 8601 date-time: its line
    write_csv(tmp_path / "a.csv", "t,x,y,z", ["2016-11-13 02:18:00,0,0,1", "13/11/2016,0,0,1"])
    with pytest.raises(DataFormatError, match=r"line 3, column t: time value '13/11/2016' is "
                       "not an ISO 8601 date-time"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="csv", unit="datetime")))
    # numbers with the datetime unit
    write_csv(tmp_path / "a.csv", "t,x,y,z", ["0.0,0,0,1", "0.01,0,0,1"])
    with pytest.raises(DataFormatError, match="units.time is datetime, but the column holds "
                       r"numbers \(float64\); give their unit instead"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="csv", unit="datetime")))
    (tmp_path / "a.csv").unlink()
    stamps = pd.date_range("2016-11-13", periods=3, freq="10ms")
    pd.DataFrame({"t": stamps, "x": 0.0, "y": 0.0, "z": 1.0}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataFormatError, match=r"a.parquet, column t: time: the column holds "
                       r"date-times \(timestamp\[.s\]\) but units.time is a number unit; set "
                       "units.time: datetime"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="s")))
    pd.DataFrame({"t": [0.0, 0.01, 0.02], "x": 0.0, "y": 0.0, "z": 1.0}).to_parquet(
        tmp_path / "a.parquet")
    with pytest.raises(DataFormatError, match=r"holds numbers \(double\); give their unit"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="datetime")))


def test_parquet_date_time_text_is_read_in_batches(tmp_path, monkeypatch):
    import tinyhar.datasets.custom as custom

    monkeypatch.setattr(custom, "BLOCK_ROWS", 4)  # several batches, a bad value in the third
    monkeypatch.setattr(custom, "WHOLE_READ_ROWS", 0)
    stamps = pd.date_range("2016-11-13 02:18", periods=10, freq="10ms")
    text = list(stamps.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    frame = pd.DataFrame({"t": text, "x": 0.0, "y": 0.0, "z": 1.0})
    frame.to_parquet(tmp_path / "a.parquet", row_group_size=3)
    sizes = []
    parse = custom.datetime_ns
    monkeypatch.setattr(custom, "datetime_ns", lambda c: sizes.append(len(c)) or parse(c))
    rec = load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="datetime")))
    np.testing.assert_array_equal(rec.frame["time"], np.arange(10) / 100)  # (exact: int ns)
    assert sum(sizes) == 10 and max(sizes) <= 4  # never the whole column at once
    frame.loc[9, "t"] = "soon"
    frame.to_parquet(tmp_path / "a.parquet", row_group_size=3)
    with pytest.raises(DataFormatError, match="a.parquet, column t at row 10: time value 'soon' "
                       "is not an ISO 8601 date-time"):
        load_custom(write_yaml(tmp_path, DATETIME.format(ext="parquet", unit="datetime")))


@pytest.mark.parametrize("command", [["datasets", "check"], ["inspect"]])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_file_without_rows_stops_check_and_inspect_naming_it(tmp_path, command, ext):
    """As any file that cannot be read: exit status 2, the file named, no traceback."""
    from typer.testing import CliRunner

    from tinyhar.cli import app

    header = ["t", "x", "y", "z", "act"]
    rows = pd.DataFrame([[0.02 * i, 0.0, 0.0, 1.0, "walk"] for i in range(300)],
                        columns=header)
    for name, part in (("a", rows), ("b", rows.iloc[:0])):
        if ext == "csv":
            part.to_csv(tmp_path / f"{name}.csv", index=False)
        else:
            part.to_parquet(tmp_path / f"{name}.parquet")
    path = write_yaml(tmp_path, BASIC.replace("*.csv", f"*.{ext}"))
    r = CliRunner().invoke(app, [*command, str(path), *(["--out", str(tmp_path / "report")]
                                                        if command == ["inspect"] else [])])
    assert r.exit_code == 2, r.output
    assert f"b.{ext}" in r.output
    assert "no rows of samples; record again or remove it" in " ".join(r.output.split())
    assert "Traceback" not in r.output
