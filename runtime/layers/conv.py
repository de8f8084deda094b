"""Convolutions: Conv1d, Conv2d and the transposed (de)convolution ConvTranspose2d."""
from __future__ import annotations

import math

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, TensorInfo, fail
from .rules import (as_tuple, expect_spatial, padding_param, padding_text, size_param,
                    spatial_text, window_output)

# torch is imported when the first module is built, not to read the catalogue
nn = lazy_import("torch.nn", globals(), "nn")


def _check_groups(ctx: LayerContext, in_channels: int) -> int:
    groups, out = ctx["groups"], ctx["out_channels"]
    if in_channels % groups or out % groups:
        fail(f"groups={groups} must divide both in_channels ({in_channels}) and out_channels "
             f"({out}): pick a groups value that divides both")
    return groups


def _conv_rule(dims: int):
    kind = f"Conv{dims}d"

    def rule(ctx: LayerContext) -> Inference:
        x = ctx.x
        expect_spatial(kind, x, dims)
        channels, sizes = x.shape[0], x.shape[1:]
        groups = _check_groups(ctx, channels)
        kernel = as_tuple(ctx["kernel_size"], dims)
        stride = as_tuple(ctx["stride"], dims)
        dilation = as_tuple(ctx["dilation"], dims)
        padding = ctx["padding"]
        if padding == "same":
            if any(s != 1 for s in stride):
                fail("padding 'same' needs stride 1 (PyTorch cannot keep the size while striding): "
                     "use an integer padding such as kernel_size // 2 with this stride")
            out_sizes = sizes
        else:
            pads = (0,) * dims if padding == "valid" else as_tuple(padding, dims)
            out_sizes = window_output(kind, sizes, kernel, stride, pads, dilation,
                                      padding_text(padding))
        out = ctx["out_channels"]
        per_output = (channels // groups) * math.prod(kernel)
        params = out * per_output + (out if ctx["bias"] else 0)
        flops = 2 * out * math.prod(out_sizes) * per_output
        return Inference({"output": TensorInfo((out, *out_sizes))}, params, flops)
    return rule


def _conv_build(dims: int):
    name = {1: "Conv1d", 2: "Conv2d"}[dims]

    def build(ctx: LayerContext) -> ModuleRecipe:
        return ModuleRecipe(getattr(nn, name), {
            "in_channels": ctx.x.shape[0], "out_channels": ctx["out_channels"],
            "kernel_size": ctx["kernel_size"], "stride": ctx["stride"],
            "padding": ctx["padding"], "dilation": ctx["dilation"], "groups": ctx["groups"],
            "bias": ctx["bias"]})
    return build


def _conv_params(dims: int) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("out_channels", "int", 16, "Number of filters, i.e. output channels.", minimum=1),
        size_param("kernel_size", 3, "Size of each filter's window.", dims),
        size_param("stride", 1, "Step between window positions; 2 halves the size.", dims),
        padding_param(dims, default="same"),
        size_param("dilation", 1, "Spacing between the filter's taps (atrous convolution).", dims),
        ParamSpec("groups", "int", 1, "Split channels into this many independent groups "
                  "(equal to in_channels gives a depthwise convolution).", minimum=1),
        ParamSpec("bias", "bool", True, "Learn an additive bias per output channel."),
    )


def _deconv_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    expect_spatial("ConvTranspose2d", x, 2)
    channels, sizes = x.shape[0], x.shape[1:]
    groups = _check_groups(ctx, channels)
    kernel, stride = as_tuple(ctx["kernel_size"], 2), as_tuple(ctx["stride"], 2)
    pad, extra = as_tuple(ctx["padding"], 2), as_tuple(ctx["output_padding"], 2)
    dilation = as_tuple(ctx["dilation"], 2)
    for e, s, d in zip(extra, stride, dilation):
        if e >= max(s, d):
            fail(f"output_padding {e} must be smaller than stride ({s}) or dilation ({d})")
    out_sizes = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                      for n, s, p, d, k, e in zip(sizes, stride, pad, dilation, kernel, extra))
    if min(out_sizes) < 1:
        fail(f"padding {ctx['padding']} is too large for the {spatial_text(sizes)} input: the "
             f"output would be {spatial_text(out_sizes)}; lower the padding or raise the stride "
             "or kernel size")
    out = ctx["out_channels"]
    per_input = (out // groups) * math.prod(kernel)
    params = channels * per_input + (out if ctx["bias"] else 0)
    flops = 2 * math.prod(sizes) * channels * per_input
    return Inference({"output": TensorInfo((out, *out_sizes))}, params, flops)


def _deconv_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.ConvTranspose2d, {
        "in_channels": ctx.x.shape[0], "out_channels": ctx["out_channels"],
        "kernel_size": ctx["kernel_size"], "stride": ctx["stride"], "padding": ctx["padding"],
        "output_padding": ctx["output_padding"], "groups": ctx["groups"], "bias": ctx["bias"],
        "dilation": ctx["dilation"]})


SPECS = [
    LayerSpec(
        "Conv1d", "Conv1d", "Convolution",
        "Slides learned filters along one axis of (batch, channels, length) data, detecting local "
        "patterns wherever they occur. Use it for audio, sensor signals and other sequences.",
        _conv_params(1), _conv_rule(1), _conv_build(1), has_weights=True,
        aliases=("Conv1D", "Convolution1D"), key_params=("out_channels", "kernel_size", "stride")),
    LayerSpec(
        "Conv2d", "Conv2d", "Convolution",
        "Slides learned filters over the height and width of (batch, channels, height, width) "
        "images, detecting local features such as edges and textures. Use it as the building "
        "block of image models (CNNs).",
        _conv_params(2), _conv_rule(2), _conv_build(2), has_weights=True,
        aliases=("Conv2D", "Convolution2D", "Conv"),
        key_params=("out_channels", "kernel_size", "stride")),
    LayerSpec(
        "ConvTranspose2d", "ConvTranspose2d (deconvolution)", "Convolution",
        "The reverse of a strided convolution: spreads each input pixel over a learned window, "
        "enlarging the feature map. Use it in decoders, autoencoders and generators to go from "
        "small maps back to images.",
        (ParamSpec("out_channels", "int", 16, "Number of output channels.", minimum=1),
         size_param("kernel_size", 2, "Size of each filter's window.", 2),
         size_param("stride", 2, "Upscaling step; 2 doubles the size.", 2),
         ParamSpec("padding", "size", 0, "Pixels trimmed from each side of the output.",
                   minimum=0, length=2),
         ParamSpec("output_padding", "size", 0, "Extra pixels added to one side of the output, "
                   "to reach an exact size.", minimum=0, length=2),
         size_param("dilation", 1, "Spacing between the filter's taps.", 2),
         ParamSpec("groups", "int", 1, "Split channels into independent groups.", minimum=1),
         ParamSpec("bias", "bool", True, "Learn an additive bias per output channel.")),
        _deconv_rule, _deconv_build, has_weights=True,
        aliases=("Conv2DTranspose", "Deconvolution", "Deconv2d"),
        key_params=("out_channels", "kernel_size", "stride")),
]
