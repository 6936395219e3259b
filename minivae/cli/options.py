"""Numbers on the command line, checked when they are parsed: the ``type=`` of every numeric option.

argparse calls ``type(text)`` on each value; these raise ``argparse.ArgumentTypeError`` for a value out of range,
which argparse turns into exit status 2 and the line ``error: argument --epochs: expected an integer >= 0, got
'-1'``: the option, the valid range and the value, before anything is loaded or trained.

    nonnegative_int      0, 1, 2, ...            --epochs, --warmup, --seed, -k (0: skip)
    positive_int         1, 2, 3, ...            --batch-size, --iw-samples, counts such as -n
    integer(lo, hi)      lo..hi                  counts with a ceiling (a figure shows at most so many images)
    positive_float       > 0                     --lr, --range
    nonnegative_float    >= 0                    --beta, --free-bits, --clip-norm
    fraction             [0, 1)                  --corruption (1 would zero every input)
    probability          [0, 1]
    real(...)            any other interval
    hidden_sizes         "512" or "400,200"      each >= 1, and refused if the model could not fit in memory
    latent_size          1, 2, 3, ...            the same memory check
    image_shape          "8,8" or "8x8"          (H, W), both >= 1
    class_labels         "2,3"                   labels >= 0

The memory check of ``hidden_sizes`` and ``latent_size`` knows only the sizes given, so it uses the smallest data
a model can have (one input, one latent dimension, a batch of one) and refuses sizes that would exceed
``minivae.validation.MEMORY_LIMIT_BYTES`` (8 GiB) even then: ``--hidden 1000000000`` says that it needs at least
127 GiB. With the data loaded, ``minivae.validation.check_training_memory`` gives the full estimate.
"""
import argparse
import math

from minivae.validation import MEMORY_LIMIT_BYTES, format_bytes, training_memory_bytes


def integer(minimum=None, maximum=None):
    """The ``type=`` of an integer option in [minimum, maximum] (None: no bound on that side).

    Example
    -------
    >>> integer(1, 100)("7")
    7
    >>> integer(1, 100)("500")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected an integer from 1 to 100, got '500'
    """
    if minimum is not None and maximum is not None:
        valid = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        valid = f"an integer >= {minimum}"
    else:
        valid = "an integer" + (f" <= {maximum}" if maximum is not None else "")

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}")
        return value

    parse.__name__ = "integer"  # what argparse would call it
    return parse


def real(minimum=None, maximum=None, above=None, below=None):
    """The ``type=`` of a finite float option: ``minimum``/``maximum`` are inclusive bounds, ``above``/``below``
    exclusive ones (None: no bound).

    Example
    -------
    >>> real(above=0)("1e-3")
    0.001
    >>> real(minimum=0, below=1)("1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expected a number in [0, 1), got '1'
    """
    low = f"[{minimum}" if minimum is not None else (f"({above}" if above is not None else None)
    high = f"{maximum}]" if maximum is not None else (f"{below})" if below is not None else None)
    if low and high:
        valid = f"a number in {low}, {high}"
    elif low:
        valid = f"a number {'>=' if minimum is not None else '>'} {low[1:]}"
    elif high:
        valid = f"a number {'<=' if maximum is not None else '<'} {high[:-1]}"
    else:
        valid = "a finite number"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}") from None
        if (not math.isfinite(value) or (minimum is not None and value < minimum)
                or (maximum is not None and value > maximum) or (above is not None and value <= above)
                or (below is not None and value >= below)):
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


nonnegative_int = integer(0)
positive_int = integer(1)
positive_float = real(above=0)
nonnegative_float = real(minimum=0)
fraction = real(minimum=0, below=1)
probability = real(minimum=0, maximum=1)


def _integers(text, minimum, what, example):
    try:
        values = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        values = None
    if values is None or any(v < minimum for v in values):
        raise argparse.ArgumentTypeError(f"expected {what}, integers >= {minimum} separated by commas (e.g. "
                                         f"{example}), got {text!r}")
    return values


def hidden_sizes(text):
    """'512' or '400,200' -> (512,) or (400, 200): sizes >= 1, refused if even the smallest model with them would
    need more than 8 GiB to train (the estimate is in the message)."""
    sizes = tuple(_integers(text, 1, "hidden sizes", "512 or 400,200"))
    need = training_memory_bytes(1, sizes, 1, batch_size=1)  # the smallest data: a lower bound
    if need > MEMORY_LIMIT_BYTES:
        raise argparse.ArgumentTypeError(
            f"hidden sizes {text} would need at least {format_bytes(need)} to train, whatever the data (parameters x "
            f"4 bytes x 4 for the parameters, their gradients and Adam's two moments), more than the limit of "
            f"{format_bytes(MEMORY_LIMIT_BYTES)}; use smaller sizes, e.g. 512 or 400,200")
    return sizes


def latent_size(text):
    """A latent size >= 1, refused (with the estimate) if even one hidden unit and one input would need > 8 GiB."""
    value = positive_int(text)
    need = training_memory_bytes(1, (1,), value, batch_size=1)
    if need > MEMORY_LIMIT_BYTES:
        raise argparse.ArgumentTypeError(f"a latent size of {value} would need at least {format_bytes(need)} to "
                                         f"train, more than the limit of {format_bytes(MEMORY_LIMIT_BYTES)}; "
                                         "a VAE's latent space has a few to a few hundred dimensions")
    return value


def image_shape(text):
    """'8,8' or '8x8' -> (8, 8): the height and width of the images that flat rows of H * W values are."""
    values = _integers(text, 1, "H,W", "8,8 or 28,28")
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected H,W, two integers >= 1 (e.g. 8,8 or 28,28), got {text!r}")
    return tuple(values)


def class_labels(text):
    """'2,3' -> [2, 3]: class labels, integers >= 0."""
    return _integers(text, 0, "class labels", "2,3")
