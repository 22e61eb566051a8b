"""Redis as the guide's L2 cache: ``collector`` samples INFO, CONFIG and key TTLs read-only;
``server`` judges memory, eviction and hit ratio; ``ttl`` the per-type TTL rules of guide 2.
"""
