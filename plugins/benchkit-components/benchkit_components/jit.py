"""numba compilation for the few loops that no library offers (the pixel-grid FPFH, BTF's float16 coreset), and
the BLAS thread count of the small products that run between such kernels.

Kernels are written as plain Python over numpy arrays, with ``prange`` for their parallel loop; `jit` compiles one
on first call (parallel, cached on disk so later processes skip the compile) and runs it on the job's threads.
numba is imported only when a kernel is first called, so importing a module that defines kernels stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence

from benchkit_components.neighbours import cpu_threads


def jit(function: Callable, helpers: Sequence[str] = (), intrinsics: Callable | None = None,
        parallel: bool = True) -> Callable:
    """``function`` compiled with numba on its first call; ``helpers`` names the plain functions of its module that
    it calls (compiled alongside); ``intrinsics()``, when given, returns more names for them (numba intrinsics,
    which can only be made once numba is imported). ``parallel=False`` for kernels called often on small inputs:
    entering a parallel region per loop costs more than their work (with parallel regions, farthest point sampling
    inside SeDiR's and Mamba3D-AD's training made concurrent jobs 3x slower)."""
    compiled = None

    def call(*args):
        import numba

        nonlocal compiled
        if compiled is None:
            numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
            function.__globals__["prange"] = numba.prange  # a parallel loop; in plain Python, range
            if intrinsics is not None:
                function.__globals__.update(intrinsics())
            for name in helpers:
                helper = function.__globals__[name]
                if not hasattr(helper, "py_func"):  # replaced where the kernel and the helper's own module look it up
                    compiled_helper = numba.njit(cache=True, nogil=True)(helper)
                    function.__globals__[name] = helper.__globals__[name] = compiled_helper
            compiled = numba.njit(parallel=parallel, cache=True, nogil=True)(function)
        if parallel:  # a serial kernel must not start numba's thread pool
            numba.set_num_threads(max(1, min(cpu_threads(), numba.config.NUMBA_NUM_THREADS)))
        return compiled(*args)

    call.__doc__ = function.__doc__
    call.py_func = function
    return call


def bit_casts() -> dict[str, Callable]:
    """``float32_bits(x)`` and ``bits_float32(i)``: a float32's bit pattern as an int32 and back, as one LLVM
    bitcast each (numba has no scalar view), so that kernels rounding through the bits still vectorise."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    def cast(source, target):
        @intrinsic
        def convert(typingctx, value):
            def codegen(context, builder, signature, args):
                return builder.bitcast(args[0], ir.IntType(32) if target is types.int32 else ir.FloatType())
            return target(source), codegen
        return convert

    return {"float32_bits": cast(types.float32, types.int32), "bits_float32": cast(types.int32, types.float32)}


#: Products of fewer multiply-adds than this run on one BLAS thread (`blas_threads`): 4.6 ms on one core and 1.2 ms
#: on two for a float32 (28 x 224) @ (224 x 10,700) product, against the 0.1 s of a core the spin then costs.
SERIAL_BLAS_BELOW = 2**26


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(multiply_adds: int) -> Iterator[None]:
    """Run the numpy products inside on one BLAS thread when they are small (fewer than `SERIAL_BLAS_BELOW`
    multiply-adds), on BLAS's own count otherwise.

    Why: after a threaded call OpenBLAS's workers spin for about 0.1 s waiting for the next one (a process that
    sleeps after one threaded product burns 0.105 s of CPU, however long it sleeps past that), and on a job's few
    cores they take a core from the compiled parallel kernel that comes next. Behind BTF's patch pooling and bank
    search, its pixel-grid neighbour search took 137 ms per scan, 94 ms with those products on one thread and 85 ms
    timed alone (2 cores, synthetic-rgbd cable); a second thread saves a small product far less than that.
    threadpoolctl sets the count (8 us a call)."""
    if multiply_adds >= SERIAL_BLAS_BELOW:
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield
