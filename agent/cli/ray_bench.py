"""`agent bench --ray`: the bench's plans run across a Ray cluster (agent.cluster)."""

from __future__ import annotations

import asyncio

from agent.cli.app import fail, say


def ray_benches(plans: list, client, boxes, shared, display) -> None:
    """Each plan in turn on the cluster; one sentence and exit 2 where the cluster cannot serve."""
    try:
        import ray
    except ImportError:
        fail("--ray needs Ray in this environment: pip install -e '.[ray]' (scripts/setup.sh installs it)")
    from agent.cli.bench import prepare_run
    from agent.cluster.address import ClusterUnreachable, connect
    from agent.cluster.driver import ClusterUnfit, RayBench
    from agent.cluster.worker import NodeServices
    from agent.llm.client import LLMClient
    from agent.solver import Solver

    asyncio.run(_reach_model(LLMClient(client)))
    try:
        address = connect(shared.ray)
        say(f"Ray cluster at {address}: {sum(1 for n in ray.nodes() if n.get('Alive'))} nodes alive")
        for plan in plans:
            described = Solver(None, None, plan.config.solver, client.model).describe()
            run_dir = prepare_run(plan, described, client, shared.concurrency, ray=address)
            services = NodeServices(solver=plan.config.solver, client=client, sandbox=boxes, model=client.model,
                                    run_name=plan.out_dir.name)
            RayBench(plan.config, plan.problems, services, run_dir, shared.ray_samples_per_node,
                     shared.concurrency, display.bar(plan), say).run()
    except (ClusterUnreachable, ClusterUnfit) as exc:
        display.stop()
        fail(str(exc))
    finally:
        if ray.is_initialized():
            ray.shutdown()


async def _reach_model(llm) -> None:
    """The driver reaches the model endpoints before any node starts (one sentence if not)."""
    try:
        await llm.models()
    finally:
        await llm.close()
