"""Progressive delivery of a model version: gates on served traffic and the
controller that walks shadow -> canary shares -> primary (``mlmesh rollout start``)."""
