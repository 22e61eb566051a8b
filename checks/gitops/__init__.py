"""A repository's delivery: ``collector`` reads CI workflows and dependency-bot config; ``workflows``
judges that deploys wait for the rollout (5.1) and that dependencies are scanned (7.2).
"""
