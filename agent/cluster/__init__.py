"""`agent bench --ray`: one bench across a Ray cluster. The driver (this process) keeps
the run directory and is its one writer; one actor per node solves and judges samples
with its own sandbox pool and model client; a gate actor caps the sequences in flight on
each model endpoint and sends each request to the least loaded one. Ray is imported only
here, and only when --ray is given."""
