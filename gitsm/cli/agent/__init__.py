"""The warm agent: a background process that keeps gitsm's imports loaded, and the launcher that
hands a command line over to it.

``gitsm agent start`` starts it; while it runs, the ``gitsm`` console script (:mod:`.launcher`, the
standard library's C parts only) sends it the command line, the working directory, the environment,
the umask and its own standard input, output and error (the file descriptors themselves), and a
process forked from the agent's warm state runs the command on them and answers its exit status.
Without a running agent the command runs in process, as it always did. docs/AGENT.md says more.
"""
