-- wrk script of the serving benchmark (run-serve): every request a random path from a file,
-- with the API key and the TAXII Accept header.   wrk ... -s serve.lua URL -- KEY PATHS
local paths, headers = {}, {}

function init(args)
	headers["Authorization"] = "Bearer " .. args[1]
	headers["Accept"] = "application/taxii+json;version=2.1"
	for line in io.lines(args[2]) do
		paths[#paths + 1] = line
	end
	math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
	return wrk.format("GET", paths[math.random(#paths)], headers)
end
