"""How Alembic reaches the store: the connection ``store.migrate`` hands over (start-up, under
its lock), or, from the ``alembic`` command line, ``$MONITORING_DATABASE_URL`` (default: the
embedded SQLite file). ``target_metadata`` is ``store/schema.py``, so ``--autogenerate`` writes
the difference between the code and the database."""

from alembic import context
from sqlalchemy import create_engine

from monitoring_pipelines.store.engine import database_url
from monitoring_pipelines.store.migrate import VERSION_TABLE
from monitoring_pipelines.store.schema import metadata


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or database_url())
    with engine.connect() as cli_connection:
        run(cli_connection)
    engine.dispose()
