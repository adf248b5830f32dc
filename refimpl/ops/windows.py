"""Window geometry and the two ways to copy windows: standard slices, or one strided view.

A kernel offset (a, b) selects one strided slice of a channels-last image, shaped like the
output: ``nhwc[:, a::sh, b::sw, :]`` cut to (N, OH, OW, C). im2col copies the KH*KW slices into
a window matrix; max-pooling takes their elementwise maximum; col2im adds gradients back
through them. The standard path uses only array-API slicing. Where the namespace has strided
views (NumPy, CuPy: ``backend.sliding_window_view``) one copy of a window view replaces the
KH*KW slice copies; the two paths give equal results (tested).
"""

from __future__ import annotations

from refimpl.backend import get_namespace, sliding_window_view

__all__ = ["pair", "conv_output_size", "pool_output_size", "output_size", "padded_nhwc", "window_slices",
           "im2col_slices", "im2col_strided", "window_matrix_few_channels", "col2im_few_channels",
           "STRIDED_MIN_CHANNELS"]


def pair(v, name):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, int) for n in pair):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")
    return pair


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int,
                     ceil_mode: bool = False) -> int:
    """Window positions of a pooling along one axis; ``ceil_mode`` also counts a last window
    that runs past the end: ceil((size + 2 padding - kernel) / stride) + 1, less one if that
    window would start beyond the image and its leading padding (PyTorch's and cuda-convnet's
    rule; the maxout paper pools 21 rows by 4 with stride 2 into 10, not 9)."""
    if not ceil_mode:
        return conv_output_size(size, kernel, stride, padding)
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def output_size(shape, kernel_size, stride, padding):
    """(OH, OW) of windows over an (N, C, H, W) image."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    _, _, h, w = shape
    return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


# Below this many channels the KH*KW slice copies of the standard path beat one strided copy
# (each slice moves runs of C numbers; measured for C = 1: 1.2 ms against 1.4 ms, and for C = 32:
# 3.4 ms against 1.2 ms, on (64, C, 28 or 12, ...) float32 images with a 5x5 kernel).
STRIDED_MIN_CHANNELS = 4


def padded_nhwc(x, padding):
    """(N, C, H, W) -> channels-last (N, H + 2 ph, W + 2 pw, C), zero-padded (a view if no padding)."""
    xp = get_namespace(x)
    n, c, h, w = x.shape
    ph, pw = padding
    nhwc = xp.permute_dims(x, (0, 2, 3, 1))  # a view; contiguous when x came from conv2d
    if not (ph or pw):
        return nhwc
    padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype, device=x.device)
    padded[:, ph:ph + h, pw:pw + w, :] = nhwc
    return padded


def window_slices(kernel_size, stride, out_size):
    """``((a, b), index)`` for every kernel offset, row-major, indexing a channels-last image.

    ``nhwc[index]`` is (N, OH, OW, C) with entry [n, i, j, c] = nhwc[n, i*sh + a, j*sw + b, c].
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel_size, stride, out_size
    return [((a, b), (slice(None), slice(a, a + sh * (oh - 1) + 1, sh),
                      slice(b, b + sw * (ow - 1) + 1, sw), slice(None)))
            for a in range(kh) for b in range(kw)]


def im2col_slices(nhwc, kernel_size, stride, out_size):
    """The standard path: (N, H, W, C) -> (N, OH, OW, KH, KW, C), one slice copy per offset."""
    xp = get_namespace(nhwc)
    n, c = nhwc.shape[0], nhwc.shape[3]
    cols = xp.empty((n, *out_size, *kernel_size, c), dtype=nhwc.dtype, device=nhwc.device)
    for (a, b), index in window_slices(kernel_size, stride, out_size):
        cols[:, :, :, a, b, :] = nhwc[index]
    return cols


def im2col_strided(nhwc, kernel_size, stride, out_size):
    """The fast path, same result as :func:`im2col_slices`: one copy of a strided window view.

    Returns ``None`` when the namespace has no strided views (see ``backend.sliding_window_view``).
    """
    view = sliding_window_view(nhwc, kernel_size, axis=(1, 2))  # (N, H-KH+1, W-KW+1, C, KH, KW)
    if view is None:
        return None
    (sh, sw), (oh, ow) = stride, out_size
    view = view[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw]  # (N, OH, OW, C, KH, KW)
    xp = get_namespace(nhwc)
    cols = xp.empty((*view.shape[:3], *kernel_size, nhwc.shape[3]), dtype=nhwc.dtype,
                    device=nhwc.device)
    cols[...] = xp.permute_dims(view, (0, 1, 2, 4, 5, 3))
    return cols


def window_matrix_few_channels(x, kernel_size, stride, padding):
    """The windows of x (N, C, H, W) as an (N*OH*OW, KH*KW*C) matrix, rows ordered as im2col's,
    for images of few channels: the transpose of a (KH*KW*C, N*OH*OW) buffer.

    Each kernel offset fills one contiguous block of that buffer with one slice copy. In
    im2col's (N, OH, OW, KH, KW, C) layout the same copy writes runs of C numbers, one per
    cache line when C = 1 (measured on LeNet's first layer, (64, 1, 28, 28) with 5x5 kernels:
    0.36 against 1.16 ms, and its weight-gradient product is faster too). Standard operations
    only; the matrix is a view of the buffer (a matmul takes it as a transposed operand).
    """
    xp = get_namespace(x)
    n, c, h, w = x.shape
    (ph, pw), (kh, kw) = padding, kernel_size
    oh, ow = output_size(x.shape, kernel_size, stride, padding)
    if ph or pw:
        padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype, device=x.device)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    buffer = xp.empty((kh, kw, c, n, oh, ow), dtype=x.dtype, device=x.device)
    for (a, b), index in window_slices(kernel_size, stride, (oh, ow)):
        _, rows, cols, _ = index  # the (N, OH, OW, C) slice's spatial part, used on NCHW here
        buffer[a, b, ...] = xp.permute_dims(x[:, :, rows, cols], (1, 0, 2, 3))
    return xp.matrix_transpose(xp.reshape(buffer, (kh * kw * c, n * oh * ow)))


def col2im_few_channels(products, x_shape, kernel_size, stride, padding):
    """The adjoint of :func:`window_matrix_few_channels`: (KH*KW*C, N*OH*OW) -> (N, C, H, W).

    ``products`` holds one row per window entry, ordered (KH, KW, C) as that matrix's
    columns, and one column per window position (N, OH, OW). Each kernel offset adds its
    contiguous (C, N, OH, OW) block into one strided slice of a zero-padded NCHW image, which
    is then cut to x's size: conv2d's input gradient for images of few channels, where one
    (N*OH*OW, O) @ (O, C) product per offset would be a thin, slow matrix-vector product
    (measured on the maxout net's first layer, g (128, 96, 21, 21) and 8x8 kernels on one
    channel: 16 against 100 ms; LeNet's, (64, 32, 24, 24) and 5x5: 2.0 against 4.2 ms).
    """
    xp = get_namespace(products)
    n, c, h, w = x_shape
    (ph, pw), (kh, kw) = padding, kernel_size
    oh, ow = output_size(x_shape, kernel_size, stride, padding)
    blocks = xp.reshape(products, (kh, kw, c, n, oh, ow))
    padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=products.dtype,
                      device=products.device)
    for (a, b), index in window_slices(kernel_size, stride, (oh, ow)):
        _, rows, cols, _ = index  # the spatial part of the (N, OH, OW, C) slice, used on NCHW
        padded[:, :, rows, cols] += xp.permute_dims(blocks[a, b, ...], (1, 0, 2, 3))
    return padded[:, :, ph:ph + h, pw:pw + w] if ph or pw else padded
