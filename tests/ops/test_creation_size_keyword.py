"""Creation functions take PyTorch's ``size=`` keyword as well as the positional forms."""

import pytest

import mathdl as md

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("call", [lambda f: f(size=(2, 3)), lambda f: f(2, 3), lambda f: f((2, 3)),
                                  lambda f: f(size=[4]), lambda f: f(size=())])
def test_size_forms_match_torch(name, call):
    assert tuple(call(getattr(md, name)).shape) == tuple(call(getattr(torch, name)).shape)


@pytest.mark.parametrize("name", ["zeros", "randn"])
def test_size_twice_or_unknown_keyword_is_refused(name):
    with pytest.raises(TypeError, match="size given both"):
        getattr(md, name)(2, size=(3,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        getattr(md, name)(2, shape=(3,))
