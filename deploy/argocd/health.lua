-- Argo CD health for kms-operator's kinds, from their Ready and Synced conditions.
hs = {}
local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local ready = condition("Ready")
local synced = condition("Synced")
local generation = obj.metadata.generation
local observed = obj.status ~= nil and obj.status.observedGeneration or nil

if ready == nil or synced == nil or (generation ~= nil and observed ~= nil and observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for kms-operator to reconcile"
  return hs
end

local waiting = {KeyNotCreated = true, KeyNotReady = true, KeyNotFound = true, AccountNotFound = true}
if synced.status == "False" and waiting[synced.reason] then
  hs.status = "Progressing"
  hs.message = synced.message
elseif synced.status == "False" then
  hs.status = "Degraded"
  hs.message = synced.reason .. ": " .. synced.message
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif ready.reason == "KeyDisabled" then
  hs.status = "Suspended"
  hs.message = ready.message
else
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. ready.message
end
return hs
