"""One module per command added since the first release: parse, call a step, render its report."""
