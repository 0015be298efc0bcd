"""The figures `make bench` reads from /proc (CPU time and memory of a server's processes) and the requests it sends."""
import os
import time
from urllib.parse import parse_qs, urlsplit

from service.perf.bench import search_paths
from service.perf.httpload import children, cpu_seconds, memory_mb


def test_cpu_seconds_count_the_work_a_process_did_and_not_the_time_it_slept():
    me = [os.getpid()]
    before = cpu_seconds(me)
    started = time.perf_counter()
    while cpu_seconds(me) - before < 0.2 and time.perf_counter() - started < 10:
        sum(range(10_000))  # busy: the count moves with the work done
    assert cpu_seconds(me) - before >= 0.2
    resting = cpu_seconds(me)
    time.sleep(0.5)
    assert cpu_seconds(me) - resting < 0.1  # asleep: it does not
    assert cpu_seconds([2 ** 31 - 1]) == 0  # a process that is gone counts nothing


def test_memory_and_children_of_this_process():
    assert memory_mb([os.getpid()], "status", "VmRSS:") > 10
    assert children(2 ** 31 - 1) == []


def test_bench_requests_carry_each_query_whole():
    queries = ["d&c", "t&a left ear", "100% o2 #2", "hip+knee?"]
    sent = [parse_qs(urlsplit(path).query)["q"][0] for path in search_paths(queries)]
    assert sent == queries
