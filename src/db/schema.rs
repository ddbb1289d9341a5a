// One schema for both backends. Amount columns (later) are TEXT on SQLite and NUMERIC on
// PostgreSQL behind a custom SQL type; everything here maps identically on both.

diesel::table! {
    organizations (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        approval_required -> Bool,
        approvals_needed -> Integer,
        payee_cooling_off_minutes -> Integer,
        extra_approval_for_new_addresses -> Bool,
        time_zone -> Text,
        second_factor_staff -> Bool,
        second_factor_accountants -> Bool,
        step_up_every_approval -> Bool,
        create_token_accounts -> Bool,
        sanctions_max_age_days -> Integer,
        payees_may_skip_proof -> Bool,
        payee_receipts -> Bool,
        claim_days -> Integer,
    }
}

diesel::table! {
    payee_links (id) {
        id -> BigInt,
        org_id -> BigInt,
        payee_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payee_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        org_id -> BigInt,
        payee_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    payee_challenges (id) {
        id -> BigInt,
        org_id -> BigInt,
        payee_id -> BigInt,
        asset -> Text,
        address -> Text,
        nonce -> Text,
        message -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        org_id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        second_factor_at -> Nullable<Timestamp>,
        step_up_at -> Nullable<Timestamp>,
        webauthn_state -> Nullable<Text>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    security_keys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    step_up_thresholds (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        threshold -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        org_id -> Nullable<BigInt>,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        detail -> Text,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    instance_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(security_keys -> users (user_id));

diesel::table! {
    org_assets (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        enabled -> Bool,
    }
}

diesel::table! {
    fee_rules (org_id, asset, operation) {
        org_id -> BigInt,
        asset -> Text,
        operation -> Text,
        percent -> Text,
        fixed -> Text,
        min_fee -> Text,
        max_fee -> Nullable<Text>,
        updated_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    balances (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        available -> Text,
        reserved -> Text,
        paid -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        org_id -> BigInt,
        asset -> Text,
        kind -> Text,
        from_bucket -> Text,
        to_bucket -> Text,
        amount -> Text,
        payout_id -> Nullable<BigInt>,
        note -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payouts (id) {
        id -> BigInt,
        org_id -> BigInt,
        kind -> Text,
        asset -> Text,
        status -> Text,
        description -> Text,
        amount_total -> Text,
        fee -> Text,
        total_debit -> Text,
        item_count -> Integer,
        approvals_required -> Integer,
        idempotency_key -> Nullable<Text>,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        scheduled_for -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payout_items (id) {
        id -> BigInt,
        payout_id -> BigInt,
        org_id -> BigInt,
        line -> Integer,
        address -> Text,
        amount -> Text,
        fee -> Text,
        comment -> Text,
        reference -> Text,
        status -> Text,
        idempotency_key -> Text,
        tx_hash -> Nullable<Text>,
        confirmations -> Integer,
        error -> Nullable<Text>,
        attempts -> Integer,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        payee_id -> Nullable<BigInt>,
        log_index -> Nullable<Integer>,
        vout -> Nullable<Integer>,
        instruction_index -> Nullable<Integer>,
        compliance_hold -> Nullable<Text>,
        screened_at_confirmation -> Nullable<Text>,
        screened_at_sending -> Nullable<Text>,
        claim -> Bool,
        claim_until -> Nullable<Timestamp>,
        claim_reminders -> Integer,
    }
}

diesel::table! {
    payout_events (id) {
        id -> BigInt,
        payout_id -> BigInt,
        item_id -> Nullable<BigInt>,
        actor_user_id -> Nullable<BigInt>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sim_transfers (key) {
        key -> Text,
        tx_hash -> Text,
        asset -> Text,
        address -> Text,
        amount -> Text,
        fail_reason -> Nullable<Text>,
        submitted_at -> Timestamp,
    }
}

diesel::table! {
    evm_batch_rows (idempotency_key) {
        idempotency_key -> Text,
        batch_key -> Text,
        row_index -> Integer,
    }
}

diesel::table! {
    evm_replaced (tx_hash) {
        tx_hash -> Text,
        idempotency_key -> Text,
        raw_tx -> Text,
        replaced_at -> Timestamp,
    }
}

diesel::table! {
    utxo_transactions (tx_key) {
        tx_key -> Text,
        coin -> Text,
        txid -> Text,
        raw_tx -> Text,
        fee_sat -> BigInt,
        vsize -> BigInt,
        signed_height -> BigInt,
        created_at -> Timestamp,
        cancel_requested_at -> Nullable<Timestamp>,
        cancels -> Bool,
    }
}

diesel::table! {
    utxo_rows (idempotency_key) {
        idempotency_key -> Text,
        tx_key -> Text,
        row_index -> Integer,
        address -> Text,
        amount_sat -> BigInt,
        vout -> Integer,
    }
}

diesel::table! {
    utxo_replaced (txid) {
        txid -> Text,
        tx_key -> Text,
        raw_tx -> Text,
        fee_sat -> BigInt,
        replaced_at -> Timestamp,
    }
}

diesel::table! {
    solana_transactions (tx_key) {
        tx_key -> Text,
        asset -> Text,
        signature -> Text,
        raw_tx -> Text,
        last_valid_height -> BigInt,
        version -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sanction_lists (name) {
        name -> Text,
        version -> Integer,
        next_version -> Integer,
        source -> Text,
        published_at -> Nullable<Timestamp>,
        imported_at -> Timestamp,
        entries -> BigInt,
        imported_by -> Text,
    }
}

diesel::table! {
    sanctioned_addresses (list_name, version, address) {
        list_name -> Text,
        version -> Integer,
        address -> Text,
        entity -> Text,
    }
}

diesel::table! {
    solana_rows (idempotency_key) {
        idempotency_key -> Text,
        tx_key -> Text,
        row_index -> Integer,
        address -> Text,
        amount -> BigInt,
        creates_account -> Bool,
        instruction_index -> Nullable<Integer>,
        failed -> Nullable<Text>,
    }
}

diesel::table! {
    evm_transactions (idempotency_key) {
        idempotency_key -> Text,
        chain_id -> BigInt,
        from_address -> Text,
        nonce -> BigInt,
        tx_hash -> Text,
        raw_tx -> Text,
        created_at -> Timestamp,
        cancel_requested_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mass_drafts (id) {
        id -> BigInt,
        org_id -> BigInt,
        created_by -> BigInt,
        asset -> Text,
        purpose -> Text,
        status -> Text,
        payout_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        repeat_of -> Nullable<BigInt>,
        schedule_id -> Nullable<BigInt>,
        send_on -> Nullable<Timestamp>,
        fiat_currency -> Nullable<Text>,
    }
}

diesel::table! {
    mass_draft_rows (id) {
        id -> BigInt,
        draft_id -> BigInt,
        position -> BigInt,
        source_line -> Nullable<BigInt>,
        address -> Text,
        amount -> Text,
        comment -> Text,
        reference -> Text,
        upload_error -> Nullable<Text>,
        verdict -> Nullable<Text>,
    }
}

diesel::joinable!(mass_draft_rows -> mass_drafts (draft_id));

diesel::table! {
    approval_thresholds (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        threshold -> Text,
    }
}

diesel::table! {
    payout_approvals (id) {
        id -> BigInt,
        payout_id -> BigInt,
        user_id -> BigInt,
        decision -> Text,
        reason -> Text,
        digest -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        org_id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_idempotency (org_id, idempotency_key) {
        org_id -> BigInt,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        org_id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_expires_at -> Nullable<Timestamp>,
        enabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        org_id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_status_code -> Nullable<Integer>,
        last_response -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payout_status_counts (org_id, status) {
        org_id -> BigInt,
        status -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    payees (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        email -> Text,
        external_id -> Text,
        notes -> Text,
        archived -> Bool,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        tags -> Text,
    }
}

diesel::table! {
    payout_schedules (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        template_payout_id -> BigInt,
        day_of_month -> Integer,
        time_of_day -> Text,
        days_before -> Integer,
        next_pay_at -> Timestamp,
        next_draft_at -> Timestamp,
        active -> Bool,
        last_draft_id -> Nullable<BigInt>,
        last_error -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payee_addresses (id) {
        id -> BigInt,
        org_id -> BigInt,
        payee_id -> BigInt,
        network -> Text,
        address -> Text,
        status -> Text,
        entered_by -> Nullable<BigInt>,
        entered_at -> Timestamp,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        payable_from -> Nullable<Timestamp>,
        reason -> Text,
        lookalike_ack_by -> Nullable<BigInt>,
        lookalike_ack_at -> Nullable<Timestamp>,
        submitted_by_payee -> Bool,
        proof -> Nullable<Text>,
    }
}

diesel::joinable!(payee_addresses -> payees (payee_id));
diesel::joinable!(payout_items -> payouts (payout_id));
diesel::joinable!(payout_events -> payouts (payout_id));
diesel::joinable!(payouts -> users (created_by));

diesel::table! {
    events (id) {
        id -> BigInt,
        org_id -> BigInt,
        topic -> Text,
        data -> Text,
        created_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
        notified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        org_id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        grp -> Text,
        subject -> Text,
        body -> Text,
        link -> Text,
        email -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        org_id -> BigInt,
        channel -> Text,
        recipient -> Text,
        reply_to -> Text,
        kind -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        sensitive -> Bool,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Text,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notification_prefs (user_id) {
        user_id -> BigInt,
        approvals -> Text,
        outcomes -> Text,
        operations -> Text,
        follow_payouts -> Bool,
        digest_hour -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    org_notify (org_id) {
        org_id -> BigInt,
        slack_url -> Nullable<Text>,
        telegram_token -> Nullable<Text>,
        telegram_chat_id -> Nullable<Text>,
        chat_topics -> Text,
        reminder_hours -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notice_marks (mark) {
        mark -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        org_id -> BigInt,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reset_requests (id) {
        id -> BigInt,
        email -> Text,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        handled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    org_reporting (org_id) {
        org_id -> BigInt,
        currency -> Text,
        stale_minutes -> Integer,
        updated_at -> Timestamp,
        tolerance_percent -> Text,
    }
}

diesel::table! {
    payout_rates (payout_id) {
        payout_id -> BigInt,
        currency -> Text,
        rate -> Text,
        source -> Text,
        observed_at -> Timestamp,
        amount_fiat -> Text,
        fee_fiat -> Text,
        entered_in_fiat -> Bool,
    }
}

diesel::table! {
    item_values (payout_id, line) {
        payout_id -> BigInt,
        line -> Integer,
        org_id -> BigInt,
        currency -> Text,
        confirmed_fiat -> Nullable<Text>,
        entered_fiat -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        paid_currency -> Nullable<Text>,
        paid_rate -> Nullable<Text>,
        paid_source -> Nullable<Text>,
        paid_observed_at -> Nullable<Timestamp>,
        paid_fiat -> Nullable<Text>,
        fee_fiat -> Nullable<Text>,
        network_asset -> Nullable<Text>,
        network_fee -> Nullable<Text>,
        network_fee_fiat -> Nullable<Text>,
    }
}

diesel::table! {
    rates (id) {
        id -> BigInt,
        org_id -> Nullable<BigInt>,
        asset -> Text,
        currency -> Text,
        rate -> Text,
        source -> Text,
        status -> Text,
        observed_at -> Timestamp,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_pins (org_id, asset, currency) {
        org_id -> BigInt,
        asset -> Text,
        currency -> Text,
        rate -> Text,
        pinned_by -> BigInt,
        pinned_at -> Timestamp,
    }
}

diesel::table! {
    accounting_accounts (org_id, entry) {
        org_id -> BigInt,
        entry -> Text,
        account -> Text,
    }
}

diesel::table! {
    address_keys (org_id, lookup, address) {
        org_id -> BigInt,
        lookup -> Text,
        address -> Text,
    }
}

diesel::table! {
    pending_backfills (name) {
        name -> Text,
    }
}

diesel::table! {
    paid_addresses (org_id, address) {
        org_id -> BigInt,
        address -> Text,
        first_paid_at -> Timestamp,
        last_paid_at -> Timestamp,
        last_payout_id -> BigInt,
        last_line -> Integer,
        times_paid -> BigInt,
    }
}

diesel::table! {
    payee_last_paid (payee_id) {
        payee_id -> BigInt,
        org_id -> BigInt,
        item_id -> BigInt,
        address -> Text,
    }
}

diesel::table! {
    paid_days (org_id, asset, day) {
        org_id -> BigInt,
        asset -> Text,
        day -> Date,
        amount -> Text,
        fees -> Text,
    }
}

diesel::table! {
    paid_fees (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        fees -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    paid_days,
    paid_fees,
    paid_addresses,
    payee_last_paid,
    address_keys,
    accounting_accounts,
    org_reporting,
    payout_rates,
    item_values,
    rates,
    rate_pins,
    events,
    notifications,
    outbox,
    notification_prefs,
    org_notify,
    notice_marks,
    invitations,
    reset_requests,
    password_resets,
    organizations,
    users,
    sessions,
    recovery_codes,
    security_keys,
    step_up_thresholds,
    audit_log,
    instance_settings,
    org_assets,
    fee_rules,
    balances,
    ledger_entries,
    payouts,
    payout_items,
    payout_events,
    sim_transfers,
    evm_batch_rows,
    evm_replaced,
    evm_transactions,
    utxo_transactions,
    utxo_rows,
    utxo_replaced,
    solana_transactions,
    sanction_lists,
    sanctioned_addresses,
    solana_rows,
    mass_drafts,
    mass_draft_rows,
    approval_thresholds,
    payout_approvals,
    api_keys,
    api_idempotency,
    payout_schedules,
    webhook_endpoints,
    webhook_deliveries,
    payout_status_counts,
    payees,
    payee_addresses,
);

diesel::table! {
    spend_limits (org_id, asset) {
        org_id -> BigInt,
        asset -> Text,
        per_payout -> Nullable<Text>,
        per_day -> Nullable<Text>,
        per_month -> Nullable<Text>,
        over_limit -> Text,
    }
}
