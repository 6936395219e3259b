"""The streaming table encoder: each column's encoding decided from one pass, exact round trips, decoded values
always inside the real column's support, repeatable fits, and a clear error for every kind of bad batch."""
import json
import math

import numpy as np
import pytest

from minivae.models import VAE
from minivae.models.likelihoods import Mixed
from minivae.tables.columns import TableEncoder
from minivae.tables.summary import ColumnSummary
from minivae.training.trainer import TrainConfig, Trainer


def people(n=3000, seed=0):
    """A table with one column of every kind (column-batch convention)."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10, 1, n), 2)
    income[rng.random(n) < 0.1] = 0.0  # zero-inflated, skewed, >= 0: the log transform with a shift
    height = rng.normal(170, 10, n)
    height[rng.random(n) < 0.05] = np.nan  # nullable
    return {
        "height": height,
        "income": income,
        "age": rng.integers(18, 90, n).astype(np.float64),       # whole numbers, many levels: numeric, rounded
        "children": rng.poisson(1.2, n).clip(0, 6).astype(np.float64),  # few levels: categorical
        "share": rng.beta(2, 5, n),                               # declared range [0, 1]: logit
        "city": rng.choice(np.array(["Oslo", "Lima", "Pune", None], dtype=object), n, p=[0.5, 0.3, 0.15, 0.05]),
        "member": rng.choice(np.array([True, False], dtype=object), n),
        "country": np.full(n, "NO", dtype=object),                # constant
    }


def batches(table, size):
    n = len(next(iter(table.values())))
    return ({k: v[i:i + size] for k, v in table.items()} for i in range(0, n, size))


def fitted(table=None, size=500, **options):
    ranges = {"share": (0, 1)} if table is None else {}
    table = people() if table is None else table
    return TableEncoder(ranges=ranges, **options).fit(batches(table, size))


def test_each_column_gets_the_encoding_its_values_call_for():
    enc = fitted()
    c = {col["name"]: col for col in enc.columns}
    assert c["height"]["transform"] == "identity" and c["height"]["nullable"] and not c["height"]["whole"]
    assert c["income"]["transform"] == "log" and c["income"]["shift"] > 0 and c["income"]["low"] == 0
    assert c["age"]["kind"] == "numeric" and c["age"]["whole"]
    assert c["age"]["min_logvar"] == pytest.approx(math.log(max(0.01, 1 / (12 * c["age"]["std"] ** 2))))
    whole = fitted({"n": np.repeat(np.arange(0.0, 8.0), 10)}, numeric=["n"]).columns[0]  # s = 2.3: rounding wins
    assert whole["min_logvar"] == pytest.approx(math.log(1 / (12 * whole["std"] ** 2)))
    assert whole["min_logvar"] > math.log(0.01)
    assert c["children"]["kind"] == "categorical" and c["children"]["values"] == [0, 1, 2, 3, 4, 5, 6]
    assert c["share"]["transform"] == "logit" and (c["share"]["low"], c["share"]["high"]) == (0, 1)
    assert c["city"]["values"] == ["Lima", "Oslo", "Pune", None] and c["member"]["values"] == [False, True]
    assert c["country"]["kind"] == "constant"
    # D: height 1 + null block 2, income 1, age 1, children 7, share 1, city 4, member 2, country 0
    assert enc.data_dim == 3 + 1 + 1 + 7 + 1 + 4 + 2
    specs = enc.column_specs()
    assert Mixed(specs).data_dim == enc.data_dim and specs[1] == {"type": "categorical", "size": 2,
                                                                  "name": "height is null"}


def test_a_batch_round_trips_exactly_in_float64():
    table, enc = people(), fitted()
    back = enc.inverse_transform(enc.transform(table, dtype=np.float64))
    assert list(back) == list(table)
    for name in ("height", "income", "share"):
        assert np.allclose(back[name], table[name], rtol=1e-12, atol=1e-9, equal_nan=True), name
    for name in ("age", "children"):
        assert np.array_equal(back[name], table[name]), name
    for name in ("city", "member", "country"):
        assert back[name].tolist() == table[name].tolist(), name


def test_decoded_values_stay_inside_the_real_support_whatever_the_model_outputs():
    """Any x at all, here N(0, 10^2) noise, decodes to values the real columns could hold."""
    table, enc = people(), fitted()
    back = enc.inverse_transform(np.random.default_rng(1).normal(0, 10, (5000, enc.data_dim)))
    for name in ("height", "income", "age"):
        real, fake = table[name][~np.isnan(table[name])], back[name][~np.isnan(back[name])]
        assert real.min() <= fake.min() and fake.max() <= real.max(), name
    assert 0 <= back["share"].min() and back["share"].max() <= 1  # its declared range is its support
    assert (back["income"] >= 0).all() and np.array_equal(back["age"], np.round(back["age"]))
    assert 0 < np.isnan(back["height"]).mean() < 1 and not np.isnan(back["income"]).any()
    assert set(back["children"].tolist()) <= set(range(7)) and set(back["city"].tolist()) <= {"Oslo", "Lima",
                                                                                              "Pune", None}
    assert set(back["country"].tolist()) == {"NO"}
    assert np.array_equal(back["income"], np.round(back["income"], 2))  # cents in, cents out
    free = TableEncoder(ranges={"share": (0, 1)}, extrapolate=True).fit(batches(table, 500))
    wide = free.inverse_transform(np.full((1, free.data_dim), 8.0))
    assert wide["height"][0] > table["height"][~np.isnan(table["height"])].max()  # asked for: beyond the seen range
    assert 0 <= wide["share"][0] <= 1  # but never outside the transform's own support


def test_a_nullable_columns_gaussian_names_its_null_block():
    specs = fitted().column_specs()
    by_name = {s["name"]: i for i, s in enumerate(specs)}
    height = specs[by_name["height"]]
    assert height["null_block"] == by_name["height is null"] == by_name["height"] + 1
    assert "null_block" not in specs[by_name["income"]]  # no nulls, no block
    Mixed(specs)  # a valid likelihood


def test_decoded_numbers_keep_the_real_columns_decimal_places():
    rng = np.random.default_rng(2)
    table = {"price": np.round(rng.lognormal(3, 1, 2000), 2), "ratio": np.round(rng.random(2000), 3),
             "raw": rng.normal(0, 1, 2000), "tenths": np.round(rng.normal(50, 9, 2000), 1)}
    c = {col["name"]: col for col in TableEncoder().fit(batches(table, 300)).columns}
    assert [c[n]["decimals"] for n in ("price", "ratio", "raw", "tenths")] == [2, 3, None, 1]
    from minivae.tables.summary import decimal_places

    assert decimal_places(np.array([0.1, 0.2, 0.30000000000000004])) == 1  # float64's rounding is not a decimal
    assert decimal_places(np.array([1.0, 2.0])) == 0 and decimal_places(np.array([1e-7])) is None
    back = TableEncoder().fit(batches(table, 300)).inverse_transform(rng.normal(0, 2, (500, 4)))
    assert np.array_equal(back["tenths"], np.round(back["tenths"], 1))
    assert not np.array_equal(back["raw"], np.round(back["raw"], 6))  # no decimal grid: not rounded


def test_the_fit_does_not_depend_on_the_batch_size_and_repeats_bit_for_bit():
    table = people(n=4000)
    a, b = fitted(table, size=37).to_dict(), fitted(table, size=4000).to_dict()
    assert a == b  # fewer rows than the sample: every value is in it
    big = {"v": np.random.default_rng(2).lognormal(0, 1, 60_000)}
    once, again = (TableEncoder(seed=3).fit(batches(big, 7000)).to_dict() for _ in range(2))
    assert once == again


def test_the_sample_is_uniform_over_the_stream():
    """Algorithm R: after n values each is kept with probability size / n; the sample of 0..99,999 by 2,000 has
    about 200 values in each tenth of the stream (binomial standard deviation 13)."""
    summary = ColumnSummary("v", "number", np.random.default_rng(0), max_distinct=10, size=2000)
    for start in range(0, 100_000, 6_000):
        summary.update(np.arange(start, min(start + 6_000, 100_000), dtype=np.float64))
    counts = np.bincount(np.array(summary.sample, dtype=int) // 10_000, minlength=10)
    assert len(summary.sample) == len(set(summary.sample)) == 2000
    assert np.abs(counts - 200).max() < 60, counts
    assert summary.rows == 100_000 and summary.low == 0 and summary.high == 99_999 and summary.distinct is None


def test_the_encoder_round_trips_through_json_and_refuses_a_damaged_record():
    enc = fitted()
    again = TableEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    table = people()
    assert np.array_equal(again.transform(table), enc.transform(table))
    record = enc.to_dict()
    record["columns"][0].pop("std")
    with pytest.raises(ValueError, match="a column of the saved TableEncoder is damaged"):
        TableEncoder.from_dict(record)
    with pytest.raises(ValueError, match="not a TableEncoder record"):
        TableEncoder.from_dict({"columns": []})


def bad(table, **changes):
    return {**table, **changes}


@pytest.mark.parametrize("change, message", [
    (lambda t: {k: v for k, v in t.items() if k != "age"}, r"missing \['age'\], new \[\]"),
    (lambda t: {**t, "extra": t["age"]}, r"missing \[\], new \['extra'\]"),
    (lambda t: dict(reversed(list(t.items()))), "the same columns in another order"),
    (lambda t: bad(t, city=np.where(t["city"] == "Lima", "Quito", t["city"])), "never seen: 'Quito'"),
    (lambda t: bad(t, income=np.where(np.arange(len(t["income"])) == 3, np.nan, t["income"])),
     "'income' has 1 null value"),
    (lambda t: bad(t, age=np.where(np.arange(len(t["age"])) == 0, np.inf, t["age"])), "infinite"),
    (lambda t: bad(t, income=-t["income"] - 1), "was >= 0 when the encoder was fitted"),
    (lambda t: bad(t, share=t["share"] + 2), "outside its declared range"),
    (lambda t: bad(t, country=np.full(len(t["country"]), "SE", dtype=object)), "single value 'NO'"),
])
def test_a_batch_that_does_not_fit_the_encoder_is_refused_in_one_line(change, message):
    enc = fitted()
    with pytest.raises(ValueError, match=message):
        enc.transform(change(people()))


@pytest.mark.parametrize("table, options, message", [
    ({"a": np.zeros(0)}, {}, "empty table"),
    ({"a": np.full(5, np.nan), "b": np.arange(5.0)}, {}, "null in every row"),
    ({"id": np.array([f"user{i}" for i in range(300)], dtype=object)}, {}, "looks like an identifier"),
    ({"a": np.arange(5)}, {}, "has dtype int64"),
    ({"a": np.arange(5.0)}, {"ranges": {"a": (0, 3)}}, "outside its declared range"),
    ({"a": np.arange(5.0)}, {"categorical": ["b"]}, r"declared but are not in the table"),
])
def test_a_table_that_cannot_be_encoded_is_refused_in_one_line(table, options, message):
    with pytest.raises(ValueError, match=message):
        TableEncoder(**options).fit([table])


def test_the_variance_floor_keeps_training_calm():
    """Two columns, ages 18..89 (whole numbers) and a standard normal: with the encoder's floors the held-out loss
    settles near 2.8 nats (two standardised columns: about 1.4 each); with the Mixed default (e^-10) it spikes."""
    rng = np.random.default_rng(0)
    table = {"age": rng.integers(18, 90, 2000).astype(np.float64), "score": rng.normal(0, 1, 2000)}
    enc = TableEncoder().fit([table])
    assert [s["min_logvar"] for s in enc.column_specs()] == [pytest.approx(math.log(0.01))] * 2  # s = 20.6 ages
    x = enc.transform(table)
    last = {}
    for floor in (True, False):
        specs = enc.column_specs() if floor else [{k: v for k, v in s.items() if k != "min_logvar"}
                                                  for s in enc.column_specs()]
        vae = VAE(enc.data_dim, latent_dim=2, hidden=(32,), likelihood={"name": "mixed", "columns": specs})
        history = Trainer(vae, TrainConfig(epochs=30, batch_size=64, lr=3e-3, quiet=True,
                                           divergence_factor=0)).fit(x[:1800], x[1800:])
        last[floor] = max(history["val_loss"][-10:])
    assert last[True] < 3.5 and last[False] > 2 * last[True], last
