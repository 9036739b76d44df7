"""One function that turns ``--strategy`` into a tf.distribute.Strategy.

default       tf.distribute.get_strategy(): no distribution, one device.
one_device    OneDeviceStrategy on ``device`` ("/cpu:0", "/gpu:0", ...).
mirrored      MirroredStrategy over ``num_devices`` local devices: all GPUs
              when num_devices is 0, else the first num_devices GPUs, or
              the CPU split into num_devices logical devices when there
              are no GPUs (runs multi-replica code on a CPU-only host).
multi_worker  MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG.
"""

from __future__ import annotations

import json
import os
import socket

import tensorflow as tf

from infogan_tf.config import STRATEGIES, ConfigError


def split_cpu_into_logical_devices(n: int) -> None:
    """Splits the physical CPU into ``n`` logical devices (before any TF op).

    Lets multi-replica code paths run on a CPU-only machine. Must be called
    before TensorFlow initialises its devices.
    """
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as e:  # TF already initialised its devices
        raise ConfigError(f"cannot split the CPU into {n} logical devices after TensorFlow has started ({e})") from None


def check_tf_config(text: str | None) -> str:
    """Checks TF_CONFIG for multi_worker; returns this task's host:port.

    Expected: {"cluster": {"worker": ["host:port", ...]} (optionally a
    "chief" job of one task), "task": {"type": "worker", "index": i}}, the
    same cluster on every worker and each worker's own task.
    """
    if text is None:
        raise ConfigError("--strategy=multi_worker needs the TF_CONFIG environment variable")
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or (not cluster.get("worker") and not cluster.get("chief")):
        raise ConfigError(f"TF_CONFIG needs a 'cluster' with a 'worker' list of host:port, got {cluster!r}")
    extra = sorted(set(cluster) - {"chief", "worker"})
    if extra:
        raise ConfigError(f"TF_CONFIG's cluster may hold 'chief' and 'worker' jobs only, not {', '.join(extra)}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ConfigError(f"TF_CONFIG's 'task' must name a job of its cluster ({', '.join(cluster)}), got {task!r}")
    hosts, index = cluster[task["type"]], task.get("index")
    if not isinstance(index, int) or not 0 <= index < len(hosts):
        raise ConfigError(
            f"TF_CONFIG's task index {index!r} is outside job {task['type']!r}, which has {len(hosts)} task(s)"
        )
    return hosts[index]


_COLLECTIVE_KEYS_PER_STRATEGY = 10_000
_strategies_created = 0


def mirrored_strategy(devices: list[str]) -> tf.distribute.MirroredStrategy:
    """A MirroredStrategy whose collective keys no earlier strategy of this process used.

    Every MirroredStrategy over the same devices numbers its all-reduces from
    the same group and instance keys, and TF's collective runtime keeps what it
    learnt about each key for the life of the process. A second strategy that
    runs a different program (another configuration, in a notebook or a test
    session) then fails with "Shape mismatch in the collective instance". Each
    strategy made here gets its own key range (through the base TF reads when
    the strategy is built).
    """
    global _strategies_created
    _strategies_created += 1
    previous = tf.distribute.MirroredStrategy._collective_key_base
    tf.distribute.MirroredStrategy._collective_key_base = _strategies_created * _COLLECTIVE_KEYS_PER_STRATEGY
    try:
        return tf.distribute.MirroredStrategy(devices)
    finally:
        tf.distribute.MirroredStrategy._collective_key_base = previous


def get_strategy(name: str, num_devices: int = 0, device: str = "/cpu:0") -> tf.distribute.Strategy:
    """Maps a strategy name (and device options) to a tf.distribute.Strategy."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        if not tf.config.list_physical_devices("GPU") and num_devices > 1:
            split_cpu_into_logical_devices(num_devices)
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            devices = [d.name for d in gpus]
        else:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        if num_devices:
            if num_devices > len(devices):
                raise ConfigError(
                    f"--num_devices={num_devices} but only {len(devices)} device(s) are visible: {', '.join(devices)}"
                )
            devices = devices[:num_devices]
        return mirrored_strategy(devices)
    if name == "multi_worker":
        address = check_tf_config(os.environ.get("TF_CONFIG"))
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:  # "Collective ops must be configured at program startup"
            raise ConfigError(f"--strategy=multi_worker must be created before TensorFlow runs any op ({e})") from None
        except tf.errors.UnknownError as e:  # the gRPC server did not start
            raise ConfigError(f"this worker cannot listen on {address} from TF_CONFIG: {e.message}") from None
    raise ConfigError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def loopback_tf_configs(num_workers: int) -> list[str]:
    """TF_CONFIG of each worker of a cluster of local processes on 127.0.0.1 (worker 0 is the chief).

    The ports are free when chosen (bound together, then released), for
    trying multi-worker training on one machine.
    """
    sockets = [socket.socket() for _ in range(num_workers)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(num_workers)]
