-- Service tickets with their response and resolution times in hours (section 6) and the SLA
-- flag: resolved within var('ticket_sla_hours') hours of opening. Times are NULL while the
-- ticket has no first response / is unresolved; an unresolved ticket never meets the SLA.

with

tickets as (

    select * from {{ ref('stg_feedback__tickets') }}

),

final as (

    select
        ticket_id,
        customer_id,
        order_id,
        category,
        coalesce(is_complaint, false) as is_complaint,
        channel,
        opened_ts,
        opened_date,
        first_response_ts,
        resolved_ts,
        {{ seconds_between('opened_ts', 'first_response_ts') }} / 3600.0 as first_response_hours,
        {{ seconds_between('opened_ts', 'resolved_ts') }} / 3600.0 as resolution_hours,
        resolved_ts is not null as is_resolved,
        coalesce(
            {{ seconds_between('opened_ts', 'resolved_ts') }}
            <= {{ var('ticket_sla_hours') }} * 3600.0,
            false
        ) as is_resolved_within_sla
    from tickets

)

select * from final
