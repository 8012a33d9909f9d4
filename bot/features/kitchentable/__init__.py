"""The keukentafelgesprek preparation: a few questions, then a one-page PDF to take to the talk."""
