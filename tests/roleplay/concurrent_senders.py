"""Many threads sending into one session at once: the seq must come out gapless and unique."""

import threading
from collections.abc import Callable

from django.db import connection

from roleplay.models import Message, Session


def send_from_threads(session: Session, send: Callable[[object, int, int], None], *, threads_n: int, per_thread: int):
    """``send(user, n, i)`` for message ``i`` of thread ``n`` (odd threads the client, even ones the
    counselor), all threads released together; then no thread failed and seq is 1..N without a gap."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def worker(n: int) -> None:
        user = session.client if n % 2 else session.counselor
        try:
            barrier.wait()
            for i in range(per_thread):
                send(user, n, i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(Message.objects.filter(session=session).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads_n * per_thread + 1))
    assert Session.objects.get(pk=session.pk).last_seq == threads_n * per_thread
