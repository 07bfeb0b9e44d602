{#- An incremental build replaces each batch visitor's purchase events from their
    resessionize_from on (the rows int_events_sessionized re-derived). -#}
{{ config(**incremental_config(rebuilds=resessionized_rows('event_ts'))) }}
-- depends_on: {{ ref('int_batch_visitors') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}

-- The purchase events of int_events_sessionized with their session, in a narrow table of
-- their own (~1 % of the events): last-touch attribution (int_order_purchase_sessions) and
-- experiment conversions (int_experiment_visitor_outcomes), channel attribution and new-product
-- conversions look purchase events up by order or visitor; among all events each lookup would
-- read the whole events table's key columns.

with

final as (

    select
        event_id,
        event_ts,
        event_date,
        visitor_id,
        customer_id,
        session_id,
        order_id
    from {{ sessionized_events_to_read() }}
    where event_type = 'purchase'

)

select * from final
