"""Tests for minivae.datasets: the bundled MNIST, the IDX reader, downloads (offline, via file:// URLs), user array
files (CSV dialects, gzip, headers, missing values, .npz labels, image shapes, the split) and binarization. Every
file a test needs is written by the test itself; the hostile cases are rows of tests/test_hostile_input.py."""
import gzip
import hashlib
import struct

import numpy as np
import pytest

from minivae.datasets import (
    Dataset, binarize_dynamic, binarize_static, load_array_file, load_dataset, load_fashion_mnist, load_mnist,
    load_mnist_test_10k, read_idx,
)
from minivae.datasets import mnist  # the module whose MIRRORS and MD5SUMS the download tests point at a local mirror
from minivae.datasets.csvfiles import detect_delimiter, header_kind, read_csv_cells
from minivae.datasets.dataset import DamagedFileError
from minivae.datasets.download import DownloadError, default_cache_dir, download_file
from minivae.validation import check_unit_interval

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.float32): 0x0D}


def idx_bytes(array):
    """Write an IDX file by hand (independently of the reader): 0 0 code ndim, big-endian dims, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ bundled MNIST
def test_bundled_mnist_shapes_range_and_labels():
    ds = load_mnist_test_10k()
    assert isinstance(ds, Dataset) and ds.name == "mnist-test-10k" and ds.image_shape == (28, 28)
    assert ds.x_train.shape == (9000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (9000,) and ds.y_test.shape == (1000,)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0 and ds.x_test.max() <= 1.0
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.y_train[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert "LeCun" in ds.description


def test_bundled_mnist_cache_cannot_be_corrupted_by_the_user():
    first = load_mnist_test_10k()
    first.x_train[:] = 0.5
    first.y_train[:] = 3
    second = load_mnist_test_10k()
    assert second.x_train.max() == 1.0 and second.y_train[0] == 7


def test_load_dataset_default_is_the_bundled_set_and_unknown_names_list_the_known_ones():
    assert load_dataset().name == "mnist-test-10k"
    with pytest.raises(ValueError, match="mnist-test-10k.*fashion-mnist"):
        load_dataset("cifar10")


# ------------------------------------------------------------------------------------------------------ read_idx
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    array = (np.random.default_rng(0).random((5, 3, 4)) * 200).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == dtype and out.shape == (5, 3, 4)
    np.testing.assert_array_equal(out, array)
    with open(path, "rb") as f:  # an open file works too
        np.testing.assert_array_equal(read_idx(f), array)


def test_read_idx_truncated(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(idx_bytes(np.zeros((4, 5), np.uint8))[:-3])
    with pytest.raises(ValueError, match="truncated: expected 20 bytes of data, found 17"):
        read_idx(path)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="unknown IDX dtype code 0x07"):
        read_idx(path)


def test_read_idx_trailing_garbage(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"junk")
    with pytest.raises(ValueError, match="4 unexpected trailing bytes"):
        read_idx(path)


def test_read_idx_corrupt_gzip_names_the_file_and_says_what_to_do(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))[:-20])
    with pytest.raises(ValueError, match="broken.gz.*not a valid gzip.*delete it and download it again"):
        read_idx(path)


# ------------------------------------------------------------------------------------------------------ downloads
def write_mirror(folder, n_train=6, n_test=3):
    """Write the four MNIST .gz files, small, into ``folder``; return (train images, train labels, md5s)."""
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(array)))
    md5s = {name: md5(folder / name) for name in arrays}
    contents = {name: hashlib.sha256(idx_bytes(array)).hexdigest() for name, array in arrays.items()}
    return arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"], md5s, contents


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local mirror served by file:// URLs, with the URL and checksum tables pointed at it."""
    images, labels, md5s, contents = write_mirror(tmp_path / "mirror")
    for name in ("mnist", "fashion-mnist"):
        monkeypatch.setitem(mnist.MIRRORS, name, [(tmp_path / "mirror").as_uri() + "/"])
        monkeypatch.setitem(mnist.MD5SUMS, name, md5s)
    monkeypatch.setitem(mnist.CONTENT_SHA256, "mnist", contents)  # Fashion-MNIST keeps no content digests
    return images, labels


@pytest.mark.parametrize("loader, name", [(load_mnist, "mnist"), (load_fashion_mnist, "fashion-mnist")])
def test_download_verify_and_parse(tmp_path, mirror, loader, name):
    images, labels = mirror
    ds = loader(cache_dir=tmp_path / "cache")
    assert ds.name == name and ds.image_shape == (28, 28)
    assert ds.x_train.shape == (6, 784) and ds.x_test.shape == (3, 784) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train, images.reshape(6, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, labels)
    files = sorted(p.name for p in (tmp_path / "cache" / name).iterdir())
    assert files == sorted(mnist.MD5SUMS[name])  # the four files and no temporary leftovers
    assert loader(cache_dir=tmp_path / "cache", download=False).x_train.shape == (6, 784)


def test_checksum_mismatch_raises_and_leaves_no_file(tmp_path, mirror, monkeypatch):
    bad = dict(mnist.MD5SUMS["mnist"], **{"train-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setitem(mnist.MD5SUMS, "mnist", bad)
    with pytest.raises(ValueError, match="md5 checksum"):
        load_mnist(cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_unreachable_url_raises_download_error_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [(tmp_path / "nowhere").as_uri() + "/"])
    with pytest.raises(DownloadError, match=r"could not download .*use the bundled dataset \('mnist-test-10k'\)") as err:
        load_mnist(cache_dir=tmp_path / "cache")
    assert "nowhere" in str(err.value)  # the patched mirror was the one tried (never the network)
    assert issubclass(DownloadError, OSError)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_next_mirror_is_tried_when_the_first_fails(tmp_path, mirror, monkeypatch):
    good = mnist.MIRRORS["mnist"][0]
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [(tmp_path / "nowhere").as_uri() + "/", good])
    assert load_mnist(cache_dir=tmp_path / "cache").x_test.shape == (3, 784)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.gz.*cache[/\\]mnist"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)


def test_corrupt_cached_file_is_reported_removed_and_redownloaded(tmp_path, mirror):
    cache = tmp_path / "cache"
    load_mnist(cache_dir=cache)
    damaged = cache / "mnist" / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(ValueError, match="corrupt or incomplete.*deleted"):
        load_mnist(cache_dir=cache)
    assert not damaged.exists()
    assert load_mnist(cache_dir=cache).x_test.shape == (3, 784)


def test_a_recompressed_copy_placed_by_hand_is_accepted_by_its_content(tmp_path, mirror):
    """The .gz bytes differ from the published ones (another compression level), the content is the same."""
    images, _ = mirror
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for name in mnist.MD5SUMS["mnist"]:
        content = gzip.decompress((tmp_path / "mirror" / name).read_bytes())
        (folder / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))
        assert md5(folder / name) != mnist.MD5SUMS["mnist"][name]
    ds = load_mnist(cache_dir=tmp_path / "cache", download=False)
    np.testing.assert_allclose(ds.x_train, images.reshape(6, -1) / 255.0, rtol=1e-6)


def test_a_copy_with_other_content_is_refused_even_when_its_gzip_is_valid(tmp_path, mirror):
    folder = tmp_path / "cache" / "mnist"
    load_mnist(cache_dir=tmp_path / "cache")
    labels = folder / "train-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # one label changed: still a valid IDX file
    labels.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(ValueError, match="sha256 of its uncompressed content.*left in place"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert labels.exists()


def test_download_file_skips_an_existing_valid_file(tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"hello")
    url = (tmp_path / "does-not-exist").as_uri()
    assert download_file(url, dest, md5=md5(dest)) == dest
    with pytest.raises(DownloadError, match="f.bin"):  # wrong checksum -> it tries to download again
        download_file(url, dest, md5="0" * 32)


def test_cache_dir_environment_variable(tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("MINIVAE_CACHE_DIR", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    load_mnist()
    assert (tmp_path / "env-cache" / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    monkeypatch.delenv("MINIVAE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "minivae"


# ------------------------------------------------------------------------------------------------ user array files
def test_npy_npz_and_image_flattening(tmp_path):
    x = np.random.default_rng(0).random((7, 3))
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "one.npz", data=x)
    np.savez(tmp_path / "named.npz", x=x, y=np.arange(7))
    for name in ("x.npy", "one.npz", "named.npz"):
        out = load_array_file(tmp_path / name)
        assert out.dtype == np.float32 and out.shape == (7, 3)
        np.testing.assert_allclose(out, x, rtol=1e-6)
    images = np.arange(2 * 4 * 5).reshape(2, 4, 5)
    np.save(tmp_path / "img.npy", images)
    flat = load_array_file(tmp_path / "img.npy", image_shape=(4, 5))
    np.testing.assert_array_equal(flat, images.reshape(2, 20))
    with pytest.raises(ValueError, match="image_shape"):
        load_array_file(tmp_path / "img.npy", image_shape=(3, 3))


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "plain.csv").write_text("1,2,3\n4,5,6\n")
    (tmp_path / "header.csv").write_text("a,b,c\n1,2,3\n4,5,6\n\n")
    for name in ("plain.csv", "header.csv"):
        np.testing.assert_array_equal(load_array_file(tmp_path / name), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("name, content, message", [
    ("bad.csv", "1,2\n3,x\n", r"line 2, column 2: 'x' is not a number"),
    ("ragged.csv", "1,2\n3\n", r"line 2: 1 values"),
    ("empty.csv", "a,b\n", r"empty"),
    ("nan.csv", "1,2\n3,nan\ninf,0\n", r"2 values are NaN or infinite, the first at index \(1, 1\)"),
    ("data.txt", "1,2\n", r"unknown file type '.txt'"),
])
def test_array_file_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        load_array_file(tmp_path / name)


def test_numpy_file_errors(tmp_path):
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    with pytest.raises(ValueError, match=r"shape \(N, D\) or \(N, H, W\)"):
        load_array_file(tmp_path / "flat.npy")
    np.save(tmp_path / "none.npy", np.zeros((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        load_array_file(tmp_path / "none.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="unpickling"):
        load_array_file(tmp_path / "obj.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 2)), b=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"single array or one named 'x'"):
        load_array_file(tmp_path / "two.npz")
    with pytest.raises(FileNotFoundError):
        load_array_file(tmp_path / "missing.npy")


def test_load_dataset_from_a_user_file(tmp_path):
    x = np.arange(40.0).reshape(20, 2) * 10  # values up to 390: outside [0, 1]
    np.save(tmp_path / "points.npy", x)
    ds = load_dataset(tmp_path / "points.npy", test_fraction=0.25, seed=3)
    assert ds.name == "points" and ds.image_shape is None and ds.y_train is None
    assert ds.x_train.shape == (15, 2) and ds.x_test.shape == (5, 2) and ds.x_train.dtype == np.float32
    assert ds.x_train.max() > 1  # kept as they are without rescale
    together = np.concatenate([ds.x_train, ds.x_test])
    np.testing.assert_array_equal(np.sort(together[:, 0]), x[:, 0])  # a permutation: nothing lost or repeated
    again = load_dataset(str(tmp_path / "points.npy"), test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    scaled = load_dataset(tmp_path / "points.npy", rescale=True)
    both = np.concatenate([scaled.x_train, scaled.x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    np.save(tmp_path / "img.npy", np.zeros((10, 4, 5)))
    assert load_dataset(tmp_path / "img.npy").image_shape == (4, 5)


def test_check_unit_interval():
    check_unit_interval(np.array([0.0, 0.3, 1.0]))
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\].*values in \[-0.5, 2\].*rescale=True.*Gaussian"):
        check_unit_interval(np.array([-0.5, 2.0]), name="pixels")
    with pytest.raises(ValueError, match="NaN"):
        check_unit_interval(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match=r"values in \[0.5, inf\]"):
        check_unit_interval(np.array([0.5, np.inf]))
    check_unit_interval(np.zeros((0, 3)))  # an empty array has nothing outside [0, 1]


# ---------------------------------------------------------------------------------------------------- binarizing
def test_binarize_static():
    x = np.array([[0.0, 0.49, 0.5, 0.51, 1.0]], dtype=np.float32)
    out = binarize_static(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 0, 1, 1]])


def test_binarize_dynamic_is_an_unbiased_reproducible_sample():
    x = load_mnist_test_10k().x_test[:200]
    out = binarize_dynamic(x, np.random.default_rng(0))
    assert out.dtype == x.dtype and out.shape == x.shape
    assert set(np.unique(out).tolist()) <= {0.0, 1.0}
    assert abs(out.mean() - x.mean()) < 0.01  # 156,800 draws: the standard error is about 0.001
    np.testing.assert_array_equal(out, binarize_dynamic(x, np.random.default_rng(0)))
    assert not np.array_equal(out, binarize_dynamic(x, np.random.default_rng(1)))
    with pytest.raises(TypeError, match="default_rng"):
        binarize_dynamic(x, 0)


# ------------------------------------------------------------------------------- files read as the user meant them
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("header", ["names", "numbers", "none"])
@pytest.mark.parametrize("compress", [False, True])
def test_csv_delimiter_header_and_gzip_are_detected(tmp_path, delimiter, header, compress):
    x = np.random.default_rng(0).random((6, 4)).round(4)
    lines = {"names": ["a", "b", "c", "d"], "numbers": ["0", "1", "2", "3"], "none": None}[header]
    text = "".join(delimiter.join(map(str, row)) + "\n" for row in ([lines] if lines else []) + x.tolist())
    path = tmp_path / "x.csv"  # gzip is recognised by its first bytes, not by the name
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    np.testing.assert_allclose(load_array_file(path), x, rtol=1e-6)
    cells = read_csv_cells(path)
    assert cells.delimiter == delimiter and (cells.header is None) == (header == "none")
    assert ("gzip-compressed" in cells.summary()) == compress
    assert ("taken as the column numbers pandas writes" in cells.summary()) == (header == "numbers")


def test_the_delimiter_is_the_one_that_splits_every_line_alike():
    assert detect_delimiter('"fixed acidity";"pH"\n7.4;3.51\n7.8;3.2\n') == ";"  # the UCI wine tables
    assert detect_delimiter("a,b\n1,x;y\n2,z\n") == ","  # a ';' inside a cell of one line only
    assert detect_delimiter('a,b\n1,"x;y"\n2,"z;w"\n') == ","  # quoted: the ';' never splits a cell
    assert detect_delimiter("7,4;0,7\n8,1;0,5\n") == ";"  # both split every line in two: ';' (decimal commas)
    assert detect_delimiter("a\tb\n1\t2\n") == "\t"
    assert detect_delimiter("x\n1\n2\n") == ","  # one column: nothing to split


def test_a_header_is_text_or_the_column_numbers_pandas_writes():
    assert header_kind(["height", "2"]) == "names"
    assert header_kind([str(i) for i in range(64)]) == "numbers"
    assert header_kind([""] + [str(i) for i in range(64)]) == "numbers"  # with the index column's empty name
    for data in (["1", "2", "3"], ["0", "1"], ["0", "2", "1"], ["0.0", "1.0", "2.0"], ["n/a", "1", "2"]):
        assert header_kind(data) is None, data  # as likely to be an example


def test_a_pandas_index_column_is_dropped_but_an_unnamed_data_column_is_not(tmp_path):
    x = np.random.default_rng(1).random((5, 3)).round(3)
    index = "".join(f"{i}," + ",".join(map(str, row)) + "\n" for i, row in enumerate(x.tolist()))
    (tmp_path / "i.csv").write_text(",a,b,c\n" + index)
    np.testing.assert_allclose(load_array_file(tmp_path / "i.csv"), x, rtol=1e-6)
    (tmp_path / "u.csv").write_text(",a,b,c\n" + index.replace("3,", "7,", 1))  # not 0..N-1: data
    assert load_array_file(tmp_path / "u.csv").shape == (5, 4)


def test_missing_values_are_refused_dropped_or_filled_as_asked(tmp_path):
    (tmp_path / "m.csv").write_text("a,b\n1,2\nNA,4\n5,\n7,8\n")
    with pytest.raises(ValueError, match=r"m.csv: 2 missing values \(NaN\) in 2 columns: column 'a': 1 at line 3; "
                                         r"column 'b': 1 at line 4.*--missing-values drop"):
        load_array_file(tmp_path / "m.csv")
    np.testing.assert_array_equal(load_array_file(tmp_path / "m.csv", missing="drop"), [[1, 2], [7, 8]])
    np.testing.assert_array_equal(load_array_file(tmp_path / "m.csv", missing="mean"),  # float32, as loaded
                                  np.float32([[1, 2], [13 / 3, 4], [5, 14 / 3], [7, 8]]))
    x, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 4
    x[[3, 11], 1] = np.nan
    np.savez(tmp_path / "m.npz", x=x, y=y)
    data = load_dataset(tmp_path / "m.npz", missing="drop")
    assert len(data.x_train) + len(data.x_test) == 18
    for part_x, part_y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        np.testing.assert_array_equal(part_y, (part_x[:, 0] / 2) % 4)  # each label stayed with its row
    with pytest.raises(ValueError, match="every row has a missing value"):
        load_array_file(_save(tmp_path / "all.npy", np.full((3, 2), np.nan)), missing="drop")


def _save(path, x):
    np.save(path, x)
    return path


def test_npz_labels_are_used_and_follow_their_rows(tmp_path, capsys):
    y = np.random.default_rng(2).integers(0, 5, 50)
    x = np.column_stack([y, np.arange(50)]).astype(np.float32)  # column 0 is the label: we can check the split
    np.savez(tmp_path / "l.npz", data=x, labels=y.astype(np.float64))  # whole-number floats are labels too
    data = load_dataset(tmp_path / "l.npz")
    assert "used array 'data' as the data and 'labels' as the labels" in capsys.readouterr().out
    assert data.y_train.dtype == np.int64 and len(data.y_test) == 5 and "with labels" in data.description
    np.testing.assert_array_equal(data.y_train, data.x_train[:, 0])
    np.testing.assert_array_equal(data.y_test, data.x_test[:, 0])
    np.savez(tmp_path / "x.npz", x=x, notes=np.zeros(3))
    assert load_dataset(tmp_path / "x.npz").y_train is None
    assert "ignored ['notes']" in capsys.readouterr().out


def test_image_shape_makes_flat_rows_images(tmp_path):
    np.save(tmp_path / "flat.npy", np.random.default_rng(3).random((20, 64)))
    assert load_dataset(tmp_path / "flat.npy").image_shape is None
    assert load_dataset(tmp_path / "flat.npy", image_shape=(8, 8)).image_shape == (8, 8)
    assert load_dataset(tmp_path / "flat.npy", image_shape=[4, 16]).image_shape == (4, 16)  # as a JSON record replays
    np.save(tmp_path / "img.npy", np.zeros((20, 4, 16)))
    assert load_dataset(tmp_path / "img.npy", image_shape=(8, 8)).image_shape == (8, 8)
    with pytest.raises(ValueError, match=r"image shape 8x7 = 56 pixels does not fit samples of 64 values"):
        load_dataset(tmp_path / "flat.npy", image_shape=(8, 7))
    assert load_dataset("mnist-test-10k", image_shape=(28, 28)).image_shape == (28, 28)


@pytest.mark.parametrize("n", [3, 4, 10, 14, 15, 19, 20, 100])
def test_the_split_always_holds_out_two_test_examples(tmp_path, n):
    np.save(tmp_path / "x.npy", np.arange(2.0 * n).reshape(n, 2))
    data = load_dataset(tmp_path / "x.npy")
    assert len(data.x_test) == max(round(n * 0.1), 2) and len(data.x_train) == n - len(data.x_test)


def test_too_few_examples_are_refused_before_training(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="has 2 examples; a train and a test set need at least 3"):
        load_dataset(tmp_path / "x.npy")


def test_damaged_numpy_files_are_reported_as_damaged(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((50, 4)))
    (tmp_path / "x.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:-64])
    with pytest.raises(DamagedFileError, match="x.npy is truncated or corrupt") as err:
        load_array_file(tmp_path / "x.npy")
    assert isinstance(err.value, ValueError) and isinstance(err.value, OSError) and "pickl" not in str(err.value)
    np.savez(tmp_path / "x.npz", x=np.zeros((50, 4)))
    (tmp_path / "x.npz").write_bytes((tmp_path / "x.npz").read_bytes()[:100])
    with pytest.raises(DamagedFileError, match="x.npz is truncated or corrupt"):
        load_array_file(tmp_path / "x.npz")


def test_a_compressed_csv_keeps_its_name(tmp_path):
    (tmp_path / "digits.csv.gz").write_bytes(gzip.compress(b"1,2\n3,4\n5,6\n7,8\n"))
    assert load_dataset(tmp_path / "digits.csv.gz").name == "digits"


def test_no_download_never_deletes_a_corrupt_cached_file(tmp_path, mirror):
    cache = tmp_path / "cache"
    load_mnist(cache_dir=cache)
    damaged = cache / "mnist" / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    before = damaged.read_bytes()
    with pytest.raises(DamagedFileError, match="corrupt or incomplete.*left in place.*without --no-download"):
        load_mnist(cache_dir=cache, download=False)
    assert damaged.read_bytes() == before
