package replay

// AsInterrupted is asInterrupted, for the external tests.
var AsInterrupted = asInterrupted
