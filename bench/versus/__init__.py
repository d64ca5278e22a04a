"""`make bench`: the hub against two peers, the same scenarios in the same run."""
