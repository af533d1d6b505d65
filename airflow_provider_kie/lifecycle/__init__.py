"""The steps of one paid generation, shared by every operator family and by the sensor (Airflow-facing).

The flow that strings them together, top to bottom, is
:class:`airflow_provider_kie.operators.base.KieGenerationOperator`:

1. validate   - the family's request model (``client.families``); nothing is sent
2. resume     - :mod:`.durable`: a task id an earlier try saved means reconnect, finish or resubmit
3. submit     - guards first (:mod:`.durable`: an earlier submit that may have been paid unrecorded;
                :mod:`.credits`: the ``min_credits`` floor), uploads (:mod:`.uploads`), then the paid call,
                marked in ``task_state_store`` until its id is saved; "KIE is busy" waits out :mod:`.load`
4. remember   - :mod:`.durable`: the task id in ``task_state_store`` and XCom before any wait
5. wait       - the trigger (deferrable) or a blocking poll
6. complete   - :mod:`.completion`: fresh record, media stored, a :mod:`.results` dict returned
"""
