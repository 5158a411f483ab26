"""The words in an alert name, for people and for search.

``KubePodCrashLooping`` -> kube pod crash looping; ``PaymentsApiHighLatencyP99``
-> payments api high latency p 99; ``etcdHighNumberOfFailedGRPCRequests`` ->
etcd high number of failed grpc requests.
"""

import re

WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def alert_words(name: str) -> list[str]:
    """The words of a CamelCase (or snake_case) alert name, lower-cased, in order, once each."""
    found: list[str] = []
    for word in WORD.findall(name):
        word = word.lower()
        if word not in found:
            found.append(word)
    return found
