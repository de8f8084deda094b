"""The built-in layer catalogue, one module per family; each entry is one `LayerSpec`."""
from . import activation, attention, conv, core, generative, merge, norm, pool, recurrent

ALL_SPECS = [*core.SPECS, *conv.SPECS, *pool.SPECS, *norm.SPECS, *activation.SPECS,
             *recurrent.SPECS, *attention.SPECS, *merge.SPECS, *generative.SPECS]
