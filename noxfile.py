"""nox sessions: `nox -s tests` (the test suite), `nox -s demo` (the main job on the embedded default)."""
import nox

nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session):
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def demo(session):
    session.install("-e", ".")
    session.run("flash-bench", "run", *session.posargs)


@nox.session
def benchmarks(session):
    session.install("-e", ".")
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("*.py")):
        session.run("python", str(script))
