# Include in every fastnn/_*.pyx that calls kernels through the kernel table.
# (The denormal mode of the optimizer steps travels the same way.)
# Each extension links its own copy of src_c/, so each selects the ISA that
# fastnn._core chose (FASTNN_ISA or CPU detection) when it is imported, and
# fastnn._core.set_isa() switches every loaded module at once via _set_isa.
from fastnn._kernels cimport fnn_set_flush_denormal as _fnn_set_flush_denormal
from fastnn._kernels cimport fnn_set_isa as _fnn_set_isa
from fastnn._core import selected_flush_denormal as _fnn_selected_flush_denormal
from fastnn._core import selected_isa_id as _fnn_selected_isa_id

_fnn_set_isa(_fnn_selected_isa_id())
_fnn_set_flush_denormal(_fnn_selected_flush_denormal())


def _set_isa(int isa):
    """Select kernel-table row ``isa`` in this extension (internal)."""
    return _fnn_set_isa(isa)


def _set_flush_denormal(bint on):
    """Optimizer steps in this extension flush denormals, or not (internal)."""
    return _fnn_set_flush_denormal(on)
