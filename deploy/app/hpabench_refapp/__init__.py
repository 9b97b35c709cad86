"""The reference web application: cache-aside reads, transactional writes, a CPU-bound route."""
