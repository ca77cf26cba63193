"""One module per upstream wire format; `registry` names them."""
