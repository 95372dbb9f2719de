# Purger-compatible Varnish configuration (tested with Varnish 7.1, Debian 12).
#
# Purger's presets send, with the purged URL's Host header:
#   - exact URLs:          PURGE <path?query>
#   - prefixes and regexes: BAN /   with   X-Ban-Regex: ^<path regex>
# The cache key is the default one: Host + URL (path and query), so a purge matches exactly
# what clients fetched. Bans use the "lurker-friendly" form (obj.http.x-url / x-host), so the
# ban lurker can clean the cache in the background.
#
# Answers Purger relies on:
#   - PURGE: 200 "Purged" when an object was removed, 404 "Not in cache" when there was none
#     (the classic answer; Purger counts it as success: nothing stale is left on the node).
#   - BAN: 200 "Banned", or 400 with Varnish's reason when the ban expression does not parse
#     (a pattern with a space, for one): the node is then reported failed, not silently skipped.
vcl 4.1;

import std;
import purge;

# The origin this edge caches. Replace with your own.
backend origin {
    .host = "127.0.0.1";
    .port = "8080";
}

# Only Purger's instances may purge: fill in the addresses your Purger instances connect from.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # Look the object up: vcl_hit and vcl_miss purge it and say whether one was there.
        return (hash);
    }
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.X-Ban-Regex) {
            return (synth(400, "X-Ban-Regex missing"));
        }
        if (std.ban("obj.http.x-host == " + req.http.host + " && obj.http.x-url ~ " + req.http.X-Ban-Regex)) {
            return (synth(200, "Banned"));
        }
        return (synth(400, "Ban refused: " + std.ban_error()));
    }
}

sub vcl_hit {
    if (req.method == "PURGE") {
        purge.hard();
        return (synth(200, "Purged"));
    }
}

sub vcl_miss {
    if (req.method == "PURGE") {
        # A stale (graced) copy is a miss too: it is purged and counted.
        if (purge.hard() > 0) {
            return (synth(200, "Purged"));
        }
        return (synth(404, "Not in cache"));
    }
}

sub vcl_backend_response {
    # Remember host and URL on the object, for bans.
    set beresp.http.x-url = bereq.url;
    set beresp.http.x-host = bereq.http.host;
}

sub vcl_deliver {
    unset resp.http.x-url;
    unset resp.http.x-host;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
