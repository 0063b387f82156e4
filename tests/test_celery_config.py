"""The effective Celery configuration (DESIGN §5): a change that drops a decision fails here."""

from django.conf import settings

from capitolscope.celery import app


def route_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_the_five_queues_are_declared():
    assert {queue.name for queue in app.conf.task_queues} == {
        "default",
        "notifications",
        "data_ingestion",
        "price_updates",
        "maintenance",
    }
    assert app.conf.task_default_queue == "default"


def test_tasks_are_routed_to_their_queue_by_name():
    assert route_of("ingestion.sync_house_trades") == "data_ingestion"
    assert route_of("ingestion.sync_all_trades") == "data_ingestion"
    assert route_of("ingestion.update_stock_prices") == "price_updates"
    assert route_of("alerts.match_new_trades") == "notifications"
    assert route_of("alerts.send_daily_digests") == "notifications"
    assert route_of("monitoring.system_health_check") == "default"
    assert route_of("monitoring.cleanup_old_data") == "maintenance"
    assert route_of("monitoring.daily_maintenance") == "maintenance"
    assert route_of("something.unrouted") == "default"


def test_messages_are_json_only():
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]
    assert list(app.conf.result_accept_content) == ["json"]


def test_delivery_is_at_least_once_with_one_message_prefetched():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_time_limits_are_set_and_the_visibility_timeout_outlasts_the_longest():
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > settings.TASK_LONGEST_TIME_LIMIT
    assert visibility > app.conf.task_time_limit


def test_results_are_kept_in_the_database_with_extended_fields():
    assert app.conf.result_backend == "django-db"
    assert app.conf.result_extended is True
    assert app.conf.task_track_started is True
    # Retention is our batched cleanup's job, not celery.backend_cleanup's single DELETE.
    assert app.conf.result_expires is None


def test_time_is_utc_and_events_are_on():
    assert app.conf.timezone == "UTC"
    assert app.conf.enable_utc is True
    assert app.conf.worker_send_task_events is True
    assert app.conf.task_send_sent_event is True


def test_workers_recycle_and_connect_with_retries():
    assert app.conf.worker_max_tasks_per_child > 0
    assert app.conf.broker_connection_retry_on_startup is True


def test_beat_reads_its_schedule_from_the_database():
    assert app.conf.beat_scheduler == "capitolscope.beat:DatabaseScheduler"


def test_the_health_check_task_is_registered_under_its_explicit_name():
    app.loader.import_default_modules()
    assert "monitoring.system_health_check" in app.tasks


def test_what_tasks_print_is_logged_at_info_not_as_a_warning():
    # The console email backend prints each message; it is not a warning.
    assert app.conf.worker_redirect_stdouts_level == "INFO"
