-- Each device's TempPass windows. A window that has ended is what keeps it spent, so rows
-- are never collected with expired codes and links: only the requestor's backend resets
-- one. Found only through its device.
CREATE TABLE temp_passes (
    requestor TEXT NOT NULL,
    device TEXT NOT NULL,
    mvpd TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    PRIMARY KEY (requestor, device, mvpd)
);
