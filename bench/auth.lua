-- wrk script of `npm run bench` and `npm run bench:tls`: each request is a GET of the
-- URL's own path (wrk.path: /hello, /cpns/v1/whoami) with the next precomputed Digest
-- Authorization header (distinct nc values), so the replay ledger accepts each exactly
-- once. The file name comes after "--" on the wrk command line.
local headers = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    headers[#headers + 1] = line
  end
end

function request()
  index = index + 1
  local header = headers[index]
  if header == nil then
    -- Out of headers: send none, so the shortfall shows as non-2xx responses.
    return wrk.format("GET", wrk.path)
  end
  return wrk.format("GET", wrk.path, { ["Authorization"] = header })
end
