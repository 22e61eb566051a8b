"""TLS endpoints seen from outside (guide 7.1): ``collector`` shakes hands, ``transport`` judges."""
